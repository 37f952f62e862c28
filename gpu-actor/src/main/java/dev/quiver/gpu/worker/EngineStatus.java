package dev.quiver.gpu.worker;

import dev.quiver.gpu.cache.AdapterCache;
import java.util.Map;

/**
 * A snapshot of one engine, taken on its thread.
 *
 * @param adapterLoad adapter key → that adapter's sequences waiting or running (base-model requests are not in it),
 *                    for placement
 * @param maxWaiting  the bound of the waiting queue; requests beyond it are refused as overloaded
 * @param maxLoras    adapter slots in compute memory, in all
 */
public record EngineStatus(String backend, boolean healthy, int running, int waiting, int freeKvBlocks,
                           int totalKvBlocks, double kvUsage, long steps, long promptTokens, long generatedTokens,
                           long preemptions, int lastBatchSize, AdapterCache.Stats adapters,
                           Map<String, Integer> adapterLoad, int maxWaiting, int maxLoras) {
}
