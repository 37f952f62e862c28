package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DistributionsTest {
    @Test
    void poisson_gaps_have_mean_one_over_rate_and_coefficient_of_variation_one() {
        var arrivals = new Distributions.PoissonArrivals(4.0, new SplittableRandom(1));
        int n = 200_000;
        double sum = 0;
        double sumSq = 0;
        for (int i = 0; i < n; i++) {
            double g = arrivals.nextGapNanos() / 1e9;
            assertTrue(g >= 0);
            sum += g;
            sumSq += g * g;
        }
        double mean = sum / n;
        double sd = Math.sqrt(sumSq / n - mean * mean);
        assertEquals(0.25, mean, 0.25 * 0.01, "mean gap 1/rate");
        assertEquals(1.0, sd / mean, 0.02, "exponential gaps: sd = mean");
    }

    @Test
    void zipf_frequencies_match_the_formula() {
        int n = 100;
        double alpha = 1.1;
        var zipf = new Distributions.Zipf(n, alpha);
        double h = 0;
        for (int k = 1; k <= n; k++) {
            h += Math.pow(k, -alpha);
        }
        for (int k = 1; k <= n; k++) {
            assertEquals(Math.pow(k, -alpha) / h, zipf.probability(k), 1e-12, "P(" + k + ")");
        }
        int draws = 400_000;
        int[] count = new int[n + 1];
        SplittableRandom rng = new SplittableRandom(7);
        for (int i = 0; i < draws; i++) {
            int k = zipf.sample(rng);
            assertTrue(k >= 1 && k <= n);
            count[k]++;
        }
        double chi2 = 0;
        for (int k = 1; k <= n; k++) {
            double expected = draws * zipf.probability(k);
            chi2 += (count[k] - expected) * (count[k] - expected) / expected;
        }
        // 99 degrees of freedom: the 99.9th percentile of chi-square is about 149.
        assertTrue(chi2 < 149, "chi-square " + chi2);
        double top = (double) count[1] / draws;
        assertEquals(zipf.probability(1), top, 0.005, "rank 1 share");
    }

    @Test
    void zipf_with_alpha_zero_is_uniform() {
        var zipf = new Distributions.Zipf(4, 0);
        for (int k = 1; k <= 4; k++) {
            assertEquals(0.25, zipf.probability(k), 1e-12);
        }
    }

    @Test
    void length_distributions_parse_and_stay_within_bounds() {
        SplittableRandom rng = new SplittableRandom(3);
        var fixed = Distributions.Lengths.parse("fixed:32");
        var uniform = Distributions.Lengths.parse("uniform:8:12");
        var lognormal = Distributions.Lengths.parse("lognormal:64:0.5:8:256");
        int[] seen = new int[13];
        double logSum = 0;
        int n = 50_000;
        for (int i = 0; i < n; i++) {
            assertEquals(32, fixed.sample(rng));
            int u = uniform.sample(rng);
            assertTrue(u >= 8 && u <= 12);
            seen[u]++;
            int l = lognormal.sample(rng);
            assertTrue(l >= 8 && l <= 256);
            logSum += Math.log(l);
        }
        for (int v = 8; v <= 12; v++) {
            assertTrue(seen[v] > n / 5 * 0.95, "uniform hits " + v);
        }
        assertEquals(Math.log(64), logSum / n, 0.02, "lognormal median 64");
        assertEquals("lognormal:64:0.5:8:256", lognormal.toString());
        assertThrows(IllegalArgumentException.class, () -> Distributions.Lengths.parse("uniform:9:3"));
        assertThrows(IllegalArgumentException.class, () -> Distributions.Lengths.parse("normal:3"));
        assertThrows(IllegalArgumentException.class, () -> Distributions.Lengths.parse("fixed:x"));
    }

    @Test
    void a_plan_is_a_pure_function_of_the_options_and_seed() {
        LoadSettings s = LoadSettings.parse("--rate", "5", "--duration", "20", "--adapters", "10", "--zipf", "1",
                "--base-share", "0.2", "--base-model", "base", "--seed", "11");
        LoadPlan a = LoadPlan.build(s, "base");
        LoadPlan b = LoadPlan.build(s, "base");
        assertEquals(a.requests().size(), b.requests().size());
        for (int i = 0; i < a.requests().size(); i++) {
            var p = a.requests().get(i);
            var q = b.requests().get(i);
            assertEquals(p.offsetNanos(), q.offsetNanos());
            assertEquals(p.model(), q.model());
            assertArrayEquals(p.promptIds(), q.promptIds());
            assertEquals(p.maxTokens(), q.maxTokens());
        }
        long last = -1;
        int base = 0;
        for (var p : a.requests()) {
            assertTrue(p.offsetNanos() > last && p.offsetNanos() < 20_000_000_000L);
            last = p.offsetNanos();
            assertEquals(p.adapterRank() == 0 ? "base" : String.format("adapter-%02d", p.adapterRank()), p.model());
            base += p.adapterRank() == 0 ? 1 : 0;
        }
        // 100 expected arrivals; Poisson: within 4 standard deviations
        assertTrue(Math.abs(a.requests().size() - 100) < 40, "arrivals " + a.requests().size());
        assertTrue(base > 5 && base < 40, "base share 0.2 of ~100: " + base);
        LoadPlan other = LoadPlan.build(LoadSettings.parse("--rate", "5", "--duration", "20", "--adapters", "10",
                "--base-share", "0.2", "--base-model", "base", "--seed", "12"), "base");
        assertTrue(other.requests().size() != a.requests().size()
                || other.requests().get(0).offsetNanos() != a.requests().get(0).offsetNanos());
        assertEquals(7, LoadPlan.build(LoadSettings.parse("--rate", "50", "--requests", "7", "--base-share", "1",
                "--base-model", "base"), "base").requests().size());
    }
}
