package dev.quiver.gpu.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LogitProcessorTest {
    private static final int VOCAB = 32;
    private static final Set<Integer> EOS = Set.of(2);

    private static SamplingParams params(float presence, float frequency, float repetition, Map<Integer, Float> bias,
                                         int minTokens, List<Integer> stopIds, boolean ignoreEos) {
        return new SamplingParams(64, 0f, 1f, -1, 0L, List.of(), -1, ignoreEos, presence, frequency, repetition,
                bias, minTokens, stopIds, true, -1, null);
    }

    private static float[] randomLogits(long seed) {
        Random r = new Random(seed);
        float[] l = new float[VOCAB];
        for (int i = 0; i < VOCAB; i++) {
            l[i] = (float) (r.nextGaussian() * 3);
        }
        return l;
    }

    /** The specification, written out the slow way: per token, straight from the definitions. */
    private static float[] expected(float[] raw, SamplingParams p, int[] prompt, int[] output) {
        float[] e = raw.clone();
        Set<Integer> seen = new HashSet<>();
        for (int t : prompt) {
            seen.add(t);
        }
        Map<Integer, Integer> count = new HashMap<>();
        for (int t : output) {
            seen.add(t);
            count.merge(t, 1, Integer::sum);
        }
        for (int t = 0; t < VOCAB; t++) {
            if (seen.contains(t)) {
                e[t] = e[t] > 0 ? e[t] / p.repetitionPenalty() : e[t] * p.repetitionPenalty();
            }
            int c = count.getOrDefault(t, 0);
            e[t] -= p.presencePenalty() * (c > 0 ? 1 : 0) + p.frequencyPenalty() * c;
            e[t] += p.logitBias().getOrDefault(t, 0f);
        }
        if (output.length < p.minTokens()) {
            if (!p.ignoreEos()) {
                EOS.forEach(t -> e[t] = Float.NEGATIVE_INFINITY);
            }
            p.stopTokenIds().forEach(t -> e[t] = Float.NEGATIVE_INFINITY);
        }
        return e;
    }

    @Test
    void applies_repetition_then_presence_and_frequency_then_bias_as_defined() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        int[] prompt = {3, 4, 4, 9};
        int[] output = {5, 5, 5, 9, 11, 4};
        for (long seed = 0; seed < 20; seed++) {
            float[] raw = randomLogits(seed);
            SamplingParams p = params(0.7f, 0.3f, 1.3f, Map.of(7, 5f, 5, -2.5f), 0, List.of(), false);
            float[] got = raw.clone();
            proc.apply(got, 0, p, prompt, output, EOS);
            float[] want = expected(raw, p, prompt, output);
            assertArrayEquals(want, got, 1e-5f, "seed " + seed);
            assertTrue(proc.clean(), "scratch counts are cleared after a row");
        }
    }

    @Test
    void frequency_penalty_scales_with_the_count_and_presence_does_not() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        float[] logits = new float[VOCAB];
        proc.apply(logits, 0, params(0.5f, 0.25f, 1f, Map.of(), 0, List.of(), false), new int[] {1},
                new int[] {6, 6, 6, 8}, EOS);
        assertEquals(-(0.5f + 3 * 0.25f), logits[6], 1e-6f);
        assertEquals(-(0.5f + 0.25f), logits[8], 1e-6f);
        assertEquals(0f, logits[1], "a prompt token is not penalised by presence or frequency");
    }

    @Test
    void repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_token() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        float[] logits = new float[VOCAB];
        logits[3] = 4f;
        logits[4] = -4f;
        logits[5] = 4f;
        proc.apply(logits, 0, params(0f, 0f, 2f, Map.of(), 0, List.of(), false), new int[] {3, 3, 3},
                new int[] {4, 4}, EOS);
        assertEquals(2f, logits[3]);
        assertEquals(-8f, logits[4]);
        assertEquals(4f, logits[5], "an unseen token keeps its logit");
    }

    @Test
    void works_on_a_row_inside_a_larger_array() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        float[] raw = randomLogits(7);
        float[] batch = new float[3 * VOCAB];
        System.arraycopy(raw, 0, batch, VOCAB, VOCAB);
        SamplingParams p = params(1f, 1f, 1.5f, Map.of(0, 1f), 0, List.of(), false);
        proc.apply(batch, VOCAB, p, new int[] {1, 2}, new int[] {3, 0}, EOS);
        float[] row = java.util.Arrays.copyOfRange(batch, VOCAB, 2 * VOCAB);
        assertArrayEquals(expected(raw, p, new int[] {1, 2}, new int[] {3, 0}), row, 1e-5f);
        for (int i = 0; i < VOCAB; i++) {
            assertEquals(0f, batch[i], "the row before is untouched");
            assertEquals(0f, batch[2 * VOCAB + i], "the row after is untouched");
        }
    }

    @Test
    void min_tokens_masks_eos_and_stop_token_ids_until_reached() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        SamplingParams p = params(0f, 0f, 1f, Map.of(), 3, List.of(17), false);
        float[] before = randomLogits(1);
        proc.apply(before, 0, p, new int[] {1}, new int[] {5, 6}, EOS);
        assertEquals(Float.NEGATIVE_INFINITY, before[2]);
        assertEquals(Float.NEGATIVE_INFINITY, before[17]);
        float[] after = randomLogits(1);
        proc.apply(after, 0, p, new int[] {1}, new int[] {5, 6, 7}, EOS);
        assertArrayEquals(randomLogits(1), after, "with min_tokens output tokens nothing is masked");
        assertTrue(LogitProcessor.needed(p, 2));
        assertFalse(LogitProcessor.needed(p, 3));
    }

    @Test
    void min_tokens_with_ignore_eos_masks_only_the_stop_token_ids() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        float[] logits = randomLogits(2);
        proc.apply(logits, 0, params(0f, 0f, 1f, Map.of(), 2, List.of(9), true), new int[] {1}, new int[0], EOS);
        assertEquals(randomLogits(2)[2], logits[2]);
        assertEquals(Float.NEGATIVE_INFINITY, logits[9]);
    }

    @Test
    void refuses_a_logit_bias_id_outside_the_vocabulary_naming_it() {
        LogitProcessor proc = new LogitProcessor(VOCAB);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> proc.apply(new float[VOCAB],
                0, params(0f, 0f, 1f, Map.of(VOCAB, 1f), 0, List.of(), false), new int[] {1}, new int[0], EOS));
        assertTrue(e.getMessage().contains("logit_bias"), e.getMessage());
    }

    @Test
    void plain_params_need_no_processing() {
        assertFalse(LogitProcessor.needed(SamplingParams.greedy(8), 0));
        assertTrue(LogitProcessor.needed(params(0f, 0f, 1f, Map.of(3, 1f), 0, List.of(), false), 0));
    }
}
