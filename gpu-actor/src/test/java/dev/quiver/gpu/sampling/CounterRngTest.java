package dev.quiver.gpu.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CounterRngTest {

    private static final int N = 10_000;
    private static final double TWO_53 = 0x1.0p53;

    private static long bits53(double u) {
        double scaled = u * TWO_53;
        assertEquals(Math.rint(scaled), scaled, "uniform must be a multiple of 2^-53");
        return (long) scaled;
    }

    @Test
    void same_seed_and_position_give_the_same_draw() {
        for (long p = 0; p < 100; p++) {
            assertEquals(CounterRng.uniform(42L, p), CounterRng.uniform(42L, p));
        }
        assertEquals(CounterRng.uniform(-3L, 1L << 40), CounterRng.uniform(-3L, 1L << 40));
    }

    @Test
    void draws_lie_in_the_unit_interval_with_mean_near_one_half() {
        double sum = 0;
        for (long p = 0; p < N; p++) {
            double u = CounterRng.uniform(1234L, p);
            assertTrue(u >= 0.0 && u < 1.0, "out of [0,1): " + u);
            sum += u;
        }
        double mean = sum / N;
        assertTrue(mean > 0.49 && mean < 0.51, "mean " + mean);
    }

    @Test
    void positions_of_one_seed_never_collide_in_53_bits() {
        Set<Long> seen = new HashSet<>();
        for (long p = 0; p < N; p++) {
            assertTrue(seen.add(bits53(CounterRng.uniform(99L, p))), "collision at position " + p);
        }
    }

    @Test
    void different_seeds_give_unrelated_streams() {
        Set<Long> seen = new HashSet<>();
        for (long seed = 0; seed < 4; seed++) {
            for (long p = 0; p < N; p++) {
                assertTrue(seen.add(bits53(CounterRng.uniform(seed, p))), "seed " + seed + " pos " + p);
            }
        }
    }

    @Test
    void seeds_a_splitmix_gamma_apart_are_not_shifted_copies() {
        long gamma = 0x9E3779B97F4A7C15L;
        Set<Long> first = new HashSet<>();
        for (long p = 0; p < N; p++) {
            first.add(bits53(CounterRng.uniform(5L, p)));
        }
        for (long p = 0; p < N; p++) {
            long shifted = bits53(CounterRng.uniform(5L + gamma, p));
            assertTrue(!first.contains(shifted), "seed+gamma replays seed at position " + p);
        }
    }

    @Test
    void every_one_of_the_53_bits_varies() {
        long everSet = 0;
        long everClear = 0;
        int odd = 0;
        for (long p = 0; p < N; p++) {
            long b = bits53(CounterRng.uniform(77L, p));
            everSet |= b;
            everClear |= ~b;
            odd += (int) (b & 1);
        }
        long mask = (1L << 53) - 1;
        assertEquals(mask, everSet & mask);
        assertEquals(mask, everClear & mask);
        assertTrue(odd > 4_800 && odd < 5_200, "lowest bit set " + odd + " times");
    }

    @Test
    void adjacent_positions_differ() {
        assertNotEquals(CounterRng.uniform(0L, 0L), CounterRng.uniform(0L, 1L));
        assertNotEquals(CounterRng.uniform(0L, 0L), CounterRng.uniform(1L, 0L));
    }
}
