package dev.quiver.gpu.worker;

import dev.quiver.gpu.cache.AdapterCache;

/** A snapshot of one engine, taken on its thread. */
public record EngineStatus(String backend, boolean healthy, int running, int waiting, int freeKvBlocks,
                           int totalKvBlocks, double kvUsage, long steps, long promptTokens, long generatedTokens,
                           long preemptions, int lastBatchSize, AdapterCache.Stats adapters) {
}
