package dev.quiver.edge.api;

import java.util.List;

/**
 * Receives the events of one generation, in order, from any thread. Exactly one of {@link #onFinished} and
 * {@link #onFailed} ends it; {@link #onAccepted} comes first unless the request is refused outright.
 */
public interface GenerationListener {
    void onAccepted(int promptTokens);

    /**
     * Which model this request was sent to: before {@link #onAccepted}, again when that changes (a fallback to the
     * base model after the adapter failed to load), so the last call before {@link #onAccepted} names the model
     * that generates the tokens. A failover resume stays on the same adapter version. Services that cannot tell
     * may never call it.
     */
    default void onServed(Served served) {
    }

    /** New token ids (often one, empty at the end) and the text that is now safe to show (may be empty). */
    void onTokens(int[] tokenIds, String text, List<TokenLogprob> logprobs);

    /**
     * The teacher-forced logprobs of prompt tokens 1..P-1, each with the asked-for top alternatives; once, before
     * the first {@link #onTokens}, when the generation's params ask for prompt logprobs (completions' echo).
     */
    default void onPromptLogprobs(List<TokenLogprob> logprobs) {
    }

    /** {@code reason} is {@code stop}, {@code length} or {@code cancelled}. */
    void onFinished(String reason, int promptTokens, int completionTokens);

    void onFailed(ServiceError error);

    /** The chosen token's log-probability and, when asked for, the top alternatives. */
    record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
    }
}
