package dev.quiver.edge.api;

import dev.quiver.gpu.sampling.SamplingParams;

/**
 * One generation as the edge asks for it: the prompt is already tokenized (the edge renders chat templates and
 * tokenizes with {@link ModelSpec#tokenizer()}), {@code model} is the name the client sent.
 *
 * @param stickyKey     what picks the version when the adapter's traffic is split: the OpenAI {@code user} when
 *                      given, else the client-visible request id (the same for every choice of one request), so
 *                      one user sees one version; null means {@code requestId}
 * @param fallbackToBase the request opted into being served by the base model when the adapter's version cannot
 *                      be loaded (an adapter can also opt in for all its requests)
 */
public record Generation(String requestId, String model, int[] promptIds, SamplingParams params, String stickyKey,
                         boolean fallbackToBase) {
    public Generation(String requestId, String model, int[] promptIds, SamplingParams params) {
        this(requestId, model, promptIds, params, null, false);
    }

    /** The key that picks a split's version: {@link #stickyKey()} or, when none, the request id. */
    public String splitKey() {
        return stickyKey != null ? stickyKey : requestId;
    }
}
