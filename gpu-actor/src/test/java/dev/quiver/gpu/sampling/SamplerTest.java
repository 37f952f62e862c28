package dev.quiver.gpu.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static final int DRAWS = 20_000;

    private static SamplingParams random(float temperature, float topP, int topK, long seed) {
        return new SamplingParams(16, temperature, topP, topK, seed, List.of(), -1, false);
    }

    private static SamplingParams withLogprobs(float temperature, int topK, int logprobs) {
        return new SamplingParams(16, temperature, 1f, topK, 3L, List.of(), logprobs, false);
    }

    /** Logits whose softmax is exactly {@code probs} up to float rounding. */
    private static float[] logitsOf(double... probs) {
        float[] logits = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            logits[i] = (float) Math.log(probs[i]);
        }
        return logits;
    }

    private static double[] frequencies(Sampler sampler, float[] logits, SamplingParams params) {
        double[] counts = new double[sampler.vocabSize()];
        for (long p = 0; p < DRAWS; p++) {
            counts[sampler.sample(logits, 0, params, p).tokenId()]++;
        }
        for (int i = 0; i < counts.length; i++) {
            counts[i] /= DRAWS;
        }
        return counts;
    }

    private static void assertClose(double[] expected, double[] actual, double tolerance) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tolerance,
                    "token " + i + ": expected " + Arrays.toString(expected) + " got " + Arrays.toString(actual));
        }
    }

    /** Independent log-softmax in double. */
    private static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        double logZ = max + Math.log(sum);
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = logits[i] - logZ;
        }
        return out;
    }

    private static float[] randomLogits(Random random, int vocab) {
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            // Coarse values so that ties are common.
            logits[i] = Math.round(random.nextGaussian() * 8) / 4f;
        }
        return logits;
    }

    // ---------------------------------------------------------------- greedy

    @Test
    void greedy_picks_the_highest_logit() {
        Sampler sampler = new Sampler(5);
        float[] logits = {0.1f, -2f, 3.5f, 3.4f, -7f};
        assertEquals(2, sampler.sample(logits, 0, SamplingParams.greedy(1), 0).tokenId());
    }

    @Test
    void greedy_breaks_ties_by_the_lowest_id() {
        Sampler sampler = new Sampler(6);
        float[] logits = {1f, 2f, 4f, 0f, 3f, 4f};
        assertEquals(2, sampler.sample(logits, 0, SamplingParams.greedy(1), 0).tokenId());
        float[] signedZeros = {-1f, -0.0f, 0.0f};
        assertEquals(1, new Sampler(3).sample(signedZeros, 0, SamplingParams.greedy(1), 0).tokenId());
    }

    @Test
    void greedy_ignores_seed_and_position() {
        Sampler sampler = new Sampler(4);
        float[] logits = {0f, 0.5f, 0.25f, 0.49f};
        SamplingParams greedy =
                new SamplingParams(4, 0f, 0.5f, 2, 123L, List.of(), -1, false);
        for (long p = 0; p < 100; p++) {
            assertEquals(1, sampler.sample(logits, 0, greedy, p).tokenId());
        }
    }

    @Test
    void reads_its_row_at_the_given_offset() {
        Sampler sampler = new Sampler(3);
        float[] batch = {9f, 0f, 0f, /* row 1 */ 0f, 0f, 9f, /* row 2 */ 0f, 9f, 0f};
        assertEquals(0, sampler.sample(batch, 0, SamplingParams.greedy(1), 0).tokenId());
        assertEquals(2, sampler.sample(batch, 3, SamplingParams.greedy(1), 0).tokenId());
        assertEquals(1, sampler.sample(batch, 6, SamplingParams.greedy(1), 0).tokenId());
        assertThrows(IndexOutOfBoundsException.class,
                () -> sampler.sample(batch, 7, SamplingParams.greedy(1), 0));
    }

    // ---------------------------------------------------------------- random draws

    @Test
    void same_seed_and_position_draw_the_same_token() {
        Sampler sampler = new Sampler(8);
        float[] logits = {0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f};
        SamplingParams params = random(1f, 1f, -1, 42L);
        for (long p = 0; p < 200; p++) {
            int first = sampler.sample(logits, 0, params, p).tokenId();
            assertEquals(first, new Sampler(8).sample(logits, 0, params, p).tokenId());
            assertEquals(first, sampler.sample(logits, 0, params, p).tokenId());
        }
    }

    @Test
    void different_seeds_draw_different_sequences() {
        Sampler sampler = new Sampler(16);
        float[] logits = new float[16];
        int differing = 0;
        for (long p = 0; p < 200; p++) {
            int a = sampler.sample(logits, 0, random(1f, 1f, -1, 1L), p).tokenId();
            int b = sampler.sample(logits, 0, random(1f, 1f, -1, 2L), p).tokenId();
            if (a != b) {
                differing++;
            }
        }
        // Uniform over 16 tokens: the two sequences agree at about 1/16 of positions.
        assertTrue(differing > 170, "only " + differing + " of 200 positions differ");
    }

    @Test
    void draws_invert_the_cdf_in_probability_descending_order() {
        Sampler sampler = new Sampler(3);
        float[] logits = logitsOf(0.1, 0.6, 0.3); // walk order: id 1, id 2, id 0
        SamplingParams params = random(1f, 1f, -1, 9L);
        for (long p = 0; p < 2_000; p++) {
            double u = CounterRng.uniform(9L, p);
            if (Math.abs(u - 0.6) < 1e-6 || Math.abs(u - 0.9) < 1e-6) {
                continue; // too close to a boundary for float logits
            }
            int expected = u < 0.6 ? 1 : u < 0.9 ? 2 : 0;
            assertEquals(expected, sampler.sample(logits, 0, params, p).tokenId(), "u = " + u);
        }
    }

    @Test
    void equal_probabilities_are_walked_in_id_order() {
        Sampler sampler = new Sampler(4);
        float[] logits = {0f, 0f, 0f, 0f};
        SamplingParams params = random(1f, 1f, -1, 5L);
        for (long p = 0; p < 1_000; p++) {
            int expected = (int) (CounterRng.uniform(5L, p) * 4);
            assertEquals(expected, sampler.sample(logits, 0, params, p).tokenId());
        }
    }

    @Test
    void negative_zero_ties_with_zero_in_every_ordering() {
        Sampler sampler = new Sampler(2);
        float[] logits = {-0.0f, 0.0f};
        SamplingParams params = new SamplingParams(4, 1f, 1f, -1, 5L, List.of(), 2, false);
        for (long p = 0; p < 200; p++) {
            Sampler.Sample s = sampler.sample(logits, 0, params, p);
            assertEquals(CounterRng.uniform(5L, p) < 0.5 ? 0 : 1, s.tokenId());
            assertArrayEquals(new int[] {0, 1}, s.topIds());
        }
    }

    @Test
    void sampling_frequencies_match_the_softmax_probabilities() {
        double[] probs = {0.1, 0.2, 0.3, 0.4};
        double[] freq = frequencies(new Sampler(4), logitsOf(probs), random(1f, 1f, -1, 2024L));
        assertClose(probs, freq, 0.012);
    }

    @Test
    void temperature_scales_logits_before_softmax() {
        double[] probs = {0.1, 0.2, 0.3, 0.4};
        float[] logits = logitsOf(probs);
        // At temperature T the distribution is p^(1/T), renormalised.
        for (float t : new float[] {0.5f, 2f}) {
            double[] expected = new double[4];
            double sum = 0;
            for (int i = 0; i < 4; i++) {
                expected[i] = Math.pow(probs[i], 1 / t);
                sum += expected[i];
            }
            for (int i = 0; i < 4; i++) {
                expected[i] /= sum;
            }
            assertClose(expected, frequencies(new Sampler(4), logits, random(t, 1f, -1, 11L)), 0.012);
        }
    }

    @Test
    void lower_temperature_sharpens_towards_the_most_likely_token() {
        Sampler sampler = new Sampler(4);
        float[] logits = logitsOf(0.1, 0.2, 0.3, 0.4);
        double hot = frequencies(sampler, logits, random(1.5f, 1f, -1, 1L))[3];
        double warm = frequencies(sampler, logits, random(1f, 1f, -1, 1L))[3];
        double cold = frequencies(sampler, logits, random(0.2f, 1f, -1, 1L))[3];
        assertTrue(hot < warm && warm < cold, hot + " < " + warm + " < " + cold);
        assertTrue(cold > 0.7, "cold " + cold);
    }

    @Test
    void top_k_of_one_equals_greedy() {
        Random random = new Random(1);
        Sampler sampler = new Sampler(64);
        for (int trial = 0; trial < 200; trial++) {
            float[] logits = randomLogits(random, 64);
            int greedy = sampler.sample(logits, 0, SamplingParams.greedy(1), 0).tokenId();
            SamplingParams topOne = random(2f, 1f, 1, trial);
            assertEquals(greedy, sampler.sample(logits, 0, topOne, trial).tokenId(), "trial " + trial);
        }
    }

    @Test
    void top_k_keeps_only_the_k_most_likely_and_renormalises() {
        float[] logits = logitsOf(0.05, 0.3, 0.1, 0.15, 0.4);
        double[] freq = frequencies(new Sampler(5), logits, random(1f, 1f, 2, 8L));
        assertClose(new double[] {0, 0.3 / 0.7, 0, 0, 0.4 / 0.7}, freq, 0.012);
    }

    @Test
    void small_top_p_equals_greedy() {
        Random random = new Random(2);
        Sampler sampler = new Sampler(64);
        for (int trial = 0; trial < 200; trial++) {
            float[] logits = randomLogits(random, 64);
            int greedy = sampler.sample(logits, 0, SamplingParams.greedy(1), 0).tokenId();
            SamplingParams tinyP = random(1f, 1e-6f, -1, trial);
            assertEquals(greedy, sampler.sample(logits, 0, tinyP, trial).tokenId(), "trial " + trial);
        }
    }

    @Test
    void top_p_keeps_the_smallest_most_likely_set_reaching_the_mass() {
        float[] logits = logitsOf(0.1, 0.3, 0.2, 0.4);
        // 0.4 < 0.65 <= 0.4 + 0.3: tokens 3 and 1 are kept.
        double[] freq = frequencies(new Sampler(4), logits, random(1f, 0.65f, -1, 3L));
        assertClose(new double[] {0, 3.0 / 7, 0, 4.0 / 7}, freq, 0.012);
    }

    @Test
    void top_p_breaks_ties_by_id() {
        float[] logits = {0f, 0f, 0f, 0f};
        double[] freq = frequencies(new Sampler(4), logits, random(1f, 0.5f, -1, 4L));
        assertClose(new double[] {0.5, 0.5, 0, 0}, freq, 0.012);
    }

    @Test
    void top_p_applies_to_the_top_k_renormalised_distribution() {
        float[] logits = logitsOf(0.35, 0.35, 0.3);
        // top_k = 2 leaves 0.5 / 0.5; top_p = 0.5 then keeps only the first by id.
        double[] freq = frequencies(new Sampler(3), logits, random(1f, 0.5f, 2, 6L));
        assertClose(new double[] {1, 0, 0}, freq, 0);
    }

    @Test
    void masked_tokens_are_never_drawn() {
        float ninf = Float.NEGATIVE_INFINITY;
        float[] logits = {ninf, 0f, ninf, 0f, ninf};
        double[] freq = frequencies(new Sampler(5), logits, random(1.3f, 1f, -1, 10L));
        assertClose(new double[] {0, 0.5, 0, 0.5, 0}, freq, 0.012);
    }

    @Test
    void rejects_nan_and_all_masked_logits() {
        Sampler sampler = new Sampler(3);
        assertThrows(IllegalArgumentException.class,
                () -> sampler.sample(new float[] {0f, Float.NaN, 1f}, 0, random(1f, 1f, -1, 0), 0));
        float ninf = Float.NEGATIVE_INFINITY;
        assertThrows(IllegalArgumentException.class,
                () -> sampler.sample(new float[] {ninf, ninf, ninf}, 0, SamplingParams.greedy(1), 0));
    }

    @Test
    void matches_a_naive_reference_sampler_on_random_rows_and_params() {
        Random random = new Random(77);
        int vocab = 2_000;
        float[] scales = {0.05f, 0.5f, 2f, 10f, 40f}; // flat to very peaked rows
        Sampler sampler = new Sampler(vocab);
        for (int trial = 0; trial < 400; trial++) {
            float scale = scales[random.nextInt(scales.length)];
            float[] logits = new float[vocab];
            for (int i = 0; i < vocab; i++) {
                logits[i] = random.nextInt(10) == 0
                        ? Float.NEGATIVE_INFINITY
                        : Math.round(random.nextGaussian() * scale * 4) / 4f; // coarse: many ties
            }
            float temperature = 0.05f + random.nextFloat() * 1.95f;
            float topP = random.nextInt(3) == 0 ? 1f : 0.05f + random.nextFloat() * 0.95f;
            int topK = random.nextInt(3) == 0 ? -1 : 1 + random.nextInt(vocab + 10);
            long seed = random.nextLong();
            long position = random.nextInt(100_000);
            SamplingParams params = random(temperature, topP, topK, seed);
            assertEquals(
                    NaiveSampler.draw(logits, params, position),
                    sampler.sample(logits, 0, params, position).tokenId(),
                    "trial " + trial + " scale=" + scale + " T=" + temperature + " p=" + topP + " k=" + topK);
        }
    }

    @Test
    void a_draw_deep_in_a_long_tail_matches_the_naive_reference() {
        // Flat tail and u close to 1: the draw needs nearly the whole vocabulary ranked.
        int vocab = 5_000;
        float[] logits = new float[vocab];
        logits[17] = 12f;
        for (int i = 0; i < vocab; i++) {
            if (i != 17) {
                logits[i] = -(i % 97) / 8f;
            }
        }
        Sampler sampler = new Sampler(vocab);
        int checked = 0;
        for (long p = 0; p < 200_000 && checked < 20; p++) {
            if (CounterRng.uniform(3L, p) > 0.9995) {
                SamplingParams params = random(1f, 1f, -1, 3L);
                assertEquals(NaiveSampler.draw(logits, params, p), sampler.sample(logits, 0, params, p).tokenId());
                checked++;
            }
        }
        assertTrue(checked >= 20);
    }

    @Test
    void a_draw_does_not_depend_on_earlier_calls() {
        Random random = new Random(5);
        float[] a = randomLogits(random, 200);
        float[] b = randomLogits(random, 200);
        SamplingParams params = random(0.8f, 0.9f, -1, 1L);
        int fresh = new Sampler(200).sample(a, 0, params, 17).tokenId();
        Sampler used = new Sampler(200);
        used.sample(b, 0, random(1f, 0.3f, 5, 2L), 3);
        used.sample(b, 0, withLogprobs(1f, 7, 20), 4);
        assertEquals(fresh, used.sample(a, 0, params, 17).tokenId());
    }

    @Test
    void the_cdf_walk_reports_an_answer_beyond_a_partial_ranking() {
        // Tokens 2, 0 ranked (weights 4 and 3) of four whose weights total 10.
        long[] keys = {Sampler.key(5f, 2), Sampler.key(4f, 0)};
        double[] weight = {3, 1, 4, 2};
        assertEquals(0, Sampler.walk(keys, 2, false, weight, 1f, 10, 0.5)); // 5 < 4 + 3
        assertEquals(-1, Sampler.walk(keys, 2, false, weight, 1f, 10, 0.8)); // 8 lies past 7
        assertEquals(-1, Sampler.walk(keys, 2, false, weight, 0.9f, 10, 0.1)); // cut at 9 lies past 7
        assertEquals(2, Sampler.walk(keys, 2, false, weight, 0.6f, 10, 0.5)); // cut at 7: 3.5 < 4
        // Complete ranking whose total exceeds the walked sum by rounding: the last token is taken.
        assertEquals(0, Sampler.walk(keys, 2, true, weight, 1f, 7.000001, 0.9999999));
    }

    // ---------------------------------------------------------------- logprobs

    @Test
    void chosen_logprob_is_the_raw_log_softmax_whatever_the_temperature_and_top_k() {
        Random random = new Random(3);
        Sampler sampler = new Sampler(50);
        for (int trial = 0; trial < 100; trial++) {
            float[] logits = new float[50];
            for (int i = 0; i < 50; i++) {
                logits[i] = (float) (random.nextGaussian() * 5);
            }
            double[] expected = logSoftmax(logits);
            SamplingParams params = trial % 2 == 0 ? withLogprobs(0.7f, 3, 0) : withLogprobs(0f, -1, 0);
            Sampler.Sample s = sampler.sample(logits, 0, params, trial);
            assertEquals(expected[s.tokenId()], s.logprob(), 1e-5, "trial " + trial);
            assertEquals(0, s.topIds().length);
            assertEquals(0, s.topLogprobs().length);
        }
    }

    @Test
    void top_n_alternatives_are_the_n_most_likely_sorted_with_ties_by_id() {
        Random random = new Random(4);
        int vocab = 120;
        Sampler sampler = new Sampler(vocab);
        for (int trial = 0; trial < 100; trial++) {
            float[] logits = randomLogits(random, vocab);
            double[] logprobs = logSoftmax(logits);
            int n = 1 + random.nextInt(20);
            int topK = trial % 3 == 0 ? -1 : 1 + random.nextInt(30); // sometimes fewer than n
            float temperature = trial % 4 == 0 ? 0f : 1f;
            Sampler.Sample s = sampler.sample(logits, 0, withLogprobs(temperature, topK, n), trial);

            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < vocab; i++) {
                ids.add(i);
            }
            ids.sort(Comparator.<Integer>comparingDouble(i -> -logprobs[i]).thenComparing(i -> i));
            int[] expectedIds = ids.subList(0, n).stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(expectedIds, s.topIds(), "trial " + trial);
            assertEquals(n, s.topLogprobs().length);
            for (int i = 0; i < n; i++) {
                assertEquals(logprobs[expectedIds[i]], s.topLogprobs()[i], 1e-5);
            }
            assertEquals(logprobs[s.tokenId()], s.logprob(), 1e-5);
        }
    }

    @Test
    void top_n_is_capped_at_the_vocabulary() {
        Sampler sampler = new Sampler(3);
        Sampler.Sample s = sampler.sample(new float[] {1f, 3f, 2f}, 0, withLogprobs(0f, -1, 20), 0);
        assertArrayEquals(new int[] {1, 2, 0}, s.topIds());
    }

    @Test
    void no_logprobs_requested_gives_nan_and_no_alternatives() {
        Sampler.Sample s =
                new Sampler(3).sample(new float[] {1f, 3f, 2f}, 0, SamplingParams.greedy(1), 0);
        assertEquals(1, s.tokenId());
        assertTrue(Float.isNaN(s.logprob()));
        assertEquals(0, s.topIds().length);
        assertEquals(0, s.topLogprobs().length);
    }

    @Test
    void logprobs_stay_exact_for_large_logits_over_a_large_vocabulary() {
        int vocab = 32_000;
        Random random = new Random(6);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (random.nextGaussian() * 30 + 200); // exp() overflows float without a shift
        }
        double[] expected = logSoftmax(logits);
        Sampler.Sample s = new Sampler(vocab).sample(logits, 0, withLogprobs(1f, 40, 20), 1);
        assertEquals(expected[s.tokenId()], s.logprob(), 1e-4);
        for (int i = 0; i < 20; i++) {
            assertEquals(expected[s.topIds()[i]], s.topLogprobs()[i], 1e-4);
        }
    }

    /** The readable twin: boxed sort, explicit softmax, explicit cuts. */
    private static final class NaiveSampler {
        static int draw(float[] logits, SamplingParams params, long position) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < logits.length; i++) {
                order.add(i);
            }
            order.sort(Comparator.<Integer>comparingDouble(i -> -logits[i]).thenComparing(i -> i));
            if (params.topK() != -1 && params.topK() < order.size()) {
                order = order.subList(0, params.topK());
            }
            double best = logits[order.get(0)];
            double[] w = new double[order.size()];
            double total = 0;
            for (int i = 0; i < w.length; i++) {
                w[i] = Math.exp((logits[order.get(i)] - best) / params.temperature());
                total += w[i];
            }
            int kept = w.length;
            double mass = total;
            if (params.topP() < 1f) {
                double c = 0;
                for (int i = 0; i < w.length; i++) {
                    c += w[i];
                    if (c >= params.topP() * total) {
                        kept = i + 1;
                        mass = c;
                        break;
                    }
                }
            }
            double target = CounterRng.uniform(params.seed(), position) * mass;
            double c = 0;
            for (int i = 0; i < kept; i++) {
                c += w[i];
                if (target < c) {
                    return order.get(i);
                }
            }
            throw new AssertionError("CDF walk ran off the kept set");
        }
    }

    @Test
    void score_reports_the_same_logprobs_as_a_draw_of_that_token() {
        Sampler sampler = new Sampler(6);
        float[] logits = {0.5f, 2f, -1f, 2f, 0f, -3f};
        SamplingParams params = withLogprobs(0.8f, -1, 3);
        for (long p = 0; p < 20; p++) {
            Sampler.Sample drawn = sampler.sample(logits, 0, params, p);
            Sampler.Sample scored = sampler.score(logits, 0, drawn.tokenId(), 3);
            assertEquals(drawn.logprob(), scored.logprob());
            assertArrayEquals(drawn.topIds(), scored.topIds());
            assertArrayEquals(drawn.topLogprobs(), scored.topLogprobs());
        }
        Sampler.Sample unlikely = sampler.score(logits, 0, 5, 0);
        assertEquals(5, unlikely.tokenId());
        assertEquals(0, unlikely.topIds().length);
        assertTrue(unlikely.logprob() < -4f);
    }
}
