package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CacheCountersTest {
    @Test
    void prometheus_text_is_summed_per_tier_over_workers() {
        String text = """
                # TYPE quiver_adapter_cache_hits_total counter
                quiver_adapter_cache_hits_total{worker="worker-0",tier="slot"} 40.0
                quiver_adapter_cache_hits_total{worker="worker-1",tier="slot"} 2.0
                quiver_adapter_cache_hits_total{worker="worker-0",tier="host"} 5.0
                # TYPE quiver_adapter_cache_misses_total counter
                quiver_adapter_cache_misses_total{worker="worker-0",tier="disk"} 3.0 1700000000000
                quiver_adapter_cache_misses_total_other{worker="worker-0"} 99.0
                quiver_adapter_evictions_total{worker="worker-0",tier="slot"} 7.0
                """;
        CacheCounters c = CacheCounters.parseMetrics(text);
        assertEquals(42, c.slotHits());
        assertEquals(5, c.hostHits());
        assertEquals(3, c.diskMisses(), "only the exact metric name counts; a trailing timestamp is ignored");
    }

    @Test
    void hit_rates_come_from_the_difference_of_two_readings() {
        CacheCounters before = new CacheCounters(10, 2, 3, "admin");
        CacheCounters after = new CacheCounters(80, 12, 13, "admin");
        CacheCounters d = after.minus(before);
        assertEquals(90, d.lookups());
        assertEquals(80.0 / 90, d.hitRate(), 1e-12);
        assertEquals(70.0 / 90, d.slotHitRate(), 1e-12);
        assertTrue(Double.isNaN(new CacheCounters(0, 0, 0, "metrics").hitRate()));
    }
}
