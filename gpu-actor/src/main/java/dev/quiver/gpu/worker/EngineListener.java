package dev.quiver.gpu.worker;

import java.util.List;

/**
 * Receives one request's events, called on the engine thread: keep it quick (the GpuWorker turns each into a
 * message). Exactly one of onFinished / onFailed ends every accepted request.
 */
public interface EngineListener {
    void onAccepted(String requestId, int promptTokens);

    /** New tokens (usually one) and the text that is now safe to show; text may be empty, ids may be empty at the end. */
    void onTokens(String requestId, int[] tokenIds, String text, List<TokenLogprob> logprobs);

    /**
     * The teacher-forced log-probabilities of prompt tokens 1..P-1 (token 0 has none), each with the top
     * {@code promptLogprobs} alternatives; sent once, before the first {@link #onTokens}, to requests whose
     * params ask for them ({@code SamplingParams.promptLogprobs() >= 0}).
     */
    default void onPromptLogprobs(String requestId, List<TokenLogprob> logprobs) {
    }

    void onFinished(String requestId, FinishReason reason, Usage usage);

    void onFailed(String requestId, EngineError error);

    enum FinishReason {
        /** EOS or a stop string. */
        STOP,
        /** max_tokens or the context length. */
        LENGTH,
        /** Cancelled by the client; its blocks are freed. */
        CANCELLED;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    record Usage(int promptTokens, int completionTokens) {
        public int totalTokens() {
            return promptTokens + completionTokens;
        }
    }

    /** The chosen token's log-probability and, on request, the top alternatives. */
    record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
    }
}
