package dev.quiver.gpu.worker;

import dev.quiver.gpu.sampling.SamplingParams;

/**
 * One generation request as the engine takes it: token ids (the edge tokenizes), the adapter key ({@code null}
 * for the base model) and where its files are if the worker may not know it yet.
 */
public record GenerateRequest(String id, String adapter, String adapterDir, int[] promptIds, SamplingParams params) {
}
