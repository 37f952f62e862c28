package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StatsTest {
    @Test
    void percentiles_interpolate_between_closest_ranks_like_numpy() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(1, Stats.percentile(v, 0), 1e-12);
        assertEquals(5.5, Stats.percentile(v, 50), 1e-12);
        assertEquals(9.91, Stats.percentile(v, 99), 1e-12);   // numpy.percentile(range(1, 11), 99)
        assertEquals(10, Stats.percentile(v, 100), 1e-12);
        assertEquals(3.25, Stats.percentile(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 25), 1e-12);
        assertEquals(42, Stats.percentile(new double[] {42}, 99), 1e-12);
        assertTrue(Double.isNaN(Stats.percentile(new double[0], 50)));
    }

    @Test
    void summary_sorts_its_samples_and_reports_mean_and_tail() {
        double[] v = new double[1000];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i * 7919) % 1000;   // 0..999 shuffled
        }
        Stats.Summary s = Stats.Summary.of(v);
        assertEquals(1000, s.count());
        assertEquals(499.5, s.mean(), 1e-9);
        assertEquals(499.5, s.p50(), 1e-9);
        assertEquals(989.01, s.p99(), 1e-9);
        assertEquals(999, s.max(), 0);
        for (int i = 1; i < s.sorted().length; i++) {
            assertTrue(s.sorted()[i - 1] <= s.sorted()[i]);
        }
        assertEquals(0, Stats.Summary.of(new double[0]).count());
    }
}
