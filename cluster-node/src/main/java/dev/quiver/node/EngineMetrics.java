package dev.quiver.node;

import dev.quiver.gpu.cache.AdapterCache;
import dev.quiver.gpu.worker.EngineStatus;
import kamon.Kamon;
import kamon.tag.TagSet;

/**
 * Copies one engine's status into Kamon every {@code quiver.node.metrics-interval}: gauges for running sequences,
 * queue depth, last batch size, KV-cache use and free blocks, adapter load times; counters (as deltas of the
 * engine's cumulative figures) for generated tokens, preemptions, adapter cache hits/misses per tier and
 * evictions per tier.
 */
final class EngineMetrics {
    private final String worker;
    private EngineStatus last;

    EngineMetrics(String worker) {
        this.worker = worker;
    }

    synchronized void update(EngineStatus s) {
        gauge("quiver.engine.running", s.running());
        gauge("quiver.engine.queue.depth", s.waiting());
        gauge("quiver.engine.batch.size", s.lastBatchSize());
        gauge("quiver.engine.kv.usage", s.kvUsage());
        gauge("quiver.engine.kv.free.blocks", s.freeKvBlocks());
        gauge("quiver.engine.kv.total.blocks", s.totalKvBlocks());
        AdapterCache.Stats a = s.adapters();
        gauge("quiver.adapter.slots.free", a.freeSlots());
        Kamon.gauge("quiver.adapter.load.time.ms").withTags(TagSet.of("worker", worker).withTag("stage",
                "disk_to_host").withTag("quantile", "0.5")).update(a.diskToHost().p50Ms());
        Kamon.gauge("quiver.adapter.load.time.ms").withTags(TagSet.of("worker", worker).withTag("stage",
                "disk_to_host").withTag("quantile", "0.99")).update(a.diskToHost().p99Ms());
        Kamon.gauge("quiver.adapter.load.time.ms").withTags(TagSet.of("worker", worker).withTag("stage",
                "host_to_slot").withTag("quantile", "0.5")).update(a.hostToSlot().p50Ms());
        Kamon.gauge("quiver.adapter.load.time.ms").withTags(TagSet.of("worker", worker).withTag("stage",
                "host_to_slot").withTag("quantile", "0.99")).update(a.hostToSlot().p99Ms());
        AdapterCache.Stats p = last == null ? null : last.adapters();
        delta("quiver.engine.generated.tokens", null, s.generatedTokens(), last == null ? 0 : last.generatedTokens());
        delta("quiver.engine.preemptions", null, s.preemptions(), last == null ? 0 : last.preemptions());
        delta("quiver.adapter.cache.hits", "slot", a.slotHits(), p == null ? 0 : p.slotHits());
        delta("quiver.adapter.cache.hits", "host", a.hostHits(), p == null ? 0 : p.hostHits());
        delta("quiver.adapter.cache.misses", "disk", a.diskMisses(), p == null ? 0 : p.diskMisses());
        delta("quiver.adapter.evictions", "slot", a.slotEvictions(), p == null ? 0 : p.slotEvictions());
        delta("quiver.adapter.evictions", "host", a.hostEvictions(), p == null ? 0 : p.hostEvictions());
        last = s;
    }

    private void gauge(String name, double v) {
        Kamon.gauge(name).withTag("worker", worker).update(v);
    }

    private void delta(String name, String tier, long now, long before) {
        TagSet tags = TagSet.of("worker", worker);
        Kamon.counter(name).withTags(tier == null ? tags : tags.withTag("tier", tier))
                .increment(Math.max(0, now - before));
    }
}
