package dev.quiver.gpu.worker;

import dev.quiver.gpu.sampling.SamplingParams;

/**
 * One generation request as the engine takes it: token ids (the edge tokenizes), the adapter key ({@code null}
 * for the base model) and where its files are if the worker may not know it yet.
 *
 * <p>{@code resumeTokens} are output tokens the client has already received from a worker that died mid-request
 * (cluster failover): the engine takes them as output already produced and continues exactly where that worker
 * left off, sending only what comes after them. {@code null} or empty is a fresh request.
 */
public record GenerateRequest(String id, String adapter, String adapterDir, int[] promptIds, SamplingParams params,
                              int[] resumeTokens) {

    /** A fresh request. */
    public GenerateRequest(String id, String adapter, String adapterDir, int[] promptIds, SamplingParams params) {
        this(id, adapter, adapterDir, promptIds, params, null);
    }

    /** How many output tokens the client already has: 0 for a fresh request. */
    public int resumeLength() {
        return resumeTokens == null ? 0 : resumeTokens.length;
    }
}
