package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.testing.ReferenceModel;
import dev.quiver.gpu.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CPU backend against an independent float64 forward on merged weights: base model and several adapters,
 * F32 and BF16 weights, one sequence and heterogeneous batches, prefill and KV-cache decode.
 */
class CpuBackendReferenceTest {
    static final int[] PROMPT = {1, 17, 42, 5, 88, 23, 61, 9, 30, 77, 14, 3};
    static final int BLOCK = 4;

    record Loaded(ModelWeights weights, List<LoraAdapter> adapters, CpuBackend backend) {
    }

    static Loaded load(Path dir, int threads) {
        return load(dir, threads, false);
    }

    /** The tiny model with its 4 demo adapters in slots 0-3; F32 weights copied into the heap when inHeap. */
    static Loaded load(Path dir, int threads, boolean inHeap) {
        ModelWeights w = ModelWeights.load(dir);
        List<LoraAdapter> adapters = new ArrayList<>();
        for (ModelMaker.AdapterSpec s : ModelMaker.demoAdapters(4)) {
            adapters.add(AdapterLoader.load(dir.resolve("adapters").resolve(s.name()), s.name(), w.config, 64));
        }
        CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(threads, 64, BLOCK, 4, WeightFormat.NATIVE,
                inHeap));
        for (int i = 0; i < adapters.size(); i++) {
            b.loadSlot(i, adapters.get(i));
        }
        return new Loaded(w, adapters, b);
    }

    /** Contiguous blocks [first, first + n) for a sequence. */
    static int[] blocks(int first, int tokens) {
        int n = (tokens + BLOCK - 1) / BLOCK;
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = first + i;
        }
        return t;
    }

    static float[] prefillAllRows(CpuBackend b, int[] tokens, int slot) {
        int n = tokens.length;
        int[] pos = new int[n];
        int[] slots = new int[n];
        int[] seq = new int[n];
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            pos[i] = i;
            slots[i] = slot;
            rows[i] = i;
        }
        float[] logits = new float[n * b.config().vocabSize()];
        b.forward(new ForwardBatch(tokens, pos, slots, seq, new int[][] {blocks(0, n)}, rows), logits);
        return logits;
    }

    static void assertClose(double[] expected, float[] actual, int off, String what) {
        double scale = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[off + i]));
        }
        assertTrue(maxDiff <= 2e-4 * Math.max(1, scale), what + ": max |diff| " + maxDiff + " at logit scale " + scale);
    }

    @ParameterizedTest
    @CsvSource({"F32, false", "F32, true", "BF16, false", "BF16, true"})
    void base_and_adapter_logits_match_float64_reference_at_every_position(DType dtype, boolean inHeap) {
        Loaded m = load(TinyModels.model(dtype), 2, inHeap);
        assertEquals(inHeap, m.backend.weightsInHeap());
        int vocab = m.weights.config.vocabSize();
        for (int slot = -1; slot < m.adapters.size(); slot++) {
            LoraAdapter a = slot < 0 ? null : m.adapters.get(slot);
            double[][] ref = new ReferenceModel(m.weights, a).logits(PROMPT);
            float[] got = prefillAllRows(m.backend, PROMPT, slot);
            for (int t = 0; t < PROMPT.length; t++) {
                assertClose(ref[t], got, t * vocab, dtype + (inHeap ? " in heap" : "") + " slot " + slot + " position " + t);
                float[] row = java.util.Arrays.copyOfRange(got, t * vocab, (t + 1) * vocab);
                assertEquals(ReferenceModel.argmax(ref[t]), argmax(row), "greedy token, slot " + slot + " pos " + t);
            }
        }
        m.backend.close();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void qwen2_style_bias_and_tied_head_match_reference(boolean tied) {
        Path dir = TinyModels.model(DType.F32, ModelMaker.Shape.tiny(96).withQkvBias(true).withTied(tied),
                ModelMaker.demoAdapters(4));
        Loaded m = load(dir, 1);
        assertTrue(m.weights.config.qkvBias());
        int vocab = m.weights.config.vocabSize();
        double[][] ref = new ReferenceModel(m.weights, m.adapters.get(1)).logits(PROMPT);
        float[] got = prefillAllRows(m.backend, PROMPT, 1);
        for (int t = 0; t < PROMPT.length; t++) {
            assertClose(ref[t], got, t * vocab, "position " + t);
        }
        m.backend.close();
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void heterogeneous_batch_gives_each_sequence_its_own_adapter(DType dtype) {
        Loaded m = load(TinyModels.model(dtype), 2);
        int vocab = m.weights.config.vocabSize();
        // four sequences of different lengths: base, adapters 0, 2 and 3, in one forward pass
        int[][] prompts = {{1, 5, 9}, {1, 17, 42, 5, 88, 23, 61}, {1, 2}, {1, 30, 77, 14, 3, 8}};
        int[] slotOf = {-1, 0, 2, 3};
        List<Integer> tok = new ArrayList<>(), pos = new ArrayList<>(), sl = new ArrayList<>(), sq = new ArrayList<>();
        int[][] tables = new int[prompts.length][];
        int[] last = new int[prompts.length];
        for (int s = 0; s < prompts.length; s++) {
            tables[s] = blocks(s * 8, prompts[s].length);
            for (int i = 0; i < prompts[s].length; i++) {
                tok.add(prompts[s][i]);
                pos.add(i);
                sl.add(slotOf[s]);
                sq.add(s);
            }
            last[s] = tok.size() - 1;
        }
        float[] logits = new float[prompts.length * vocab];
        m.backend.forward(new ForwardBatch(ints(tok), ints(pos), ints(sl), ints(sq), tables, last), logits);
        for (int s = 0; s < prompts.length; s++) {
            LoraAdapter a = slotOf[s] < 0 ? null : m.adapters.get(slotOf[s]);
            double[][] ref = new ReferenceModel(m.weights, a).logits(prompts[s]);
            assertClose(ref[prompts[s].length - 1], logits, s * vocab, "sequence " + s);
        }
        m.backend.close();
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void greedy_decode_through_kv_cache_reproduces_reference_tokens(DType dtype) {
        Loaded m = load(TinyModels.model(dtype), 2);
        int vocab = m.weights.config.vocabSize();
        ReferenceModel ref = new ReferenceModel(m.weights, m.adapters.get(1));
        int steps = 8;
        int[] seqTokens = java.util.Arrays.copyOf(PROMPT, PROMPT.length + steps);
        int[] table = blocks(0, seqTokens.length);
        float[] logits = new float[vocab];
        // prefill in two chunks, then decode one token at a time through the cache
        int split = 5;
        forwardRange(m.backend, seqTokens, 0, split, table, 1, null);
        forwardRange(m.backend, seqTokens, split, PROMPT.length, table, 1, logits);
        int len = PROMPT.length;
        int[] expected = new int[steps];
        int[] got = new int[steps];
        for (int i = 0; i < steps; i++) {
            got[i] = argmax(logits);
            double[][] r = ref.logits(java.util.Arrays.copyOf(seqTokens, len));
            expected[i] = ReferenceModel.argmax(r[len - 1]);
            assertClose(r[len - 1], logits, 0, "decode step " + i);
            seqTokens[len] = got[i];
            forwardRange(m.backend, seqTokens, len, len + 1, table, 1, logits);
            len++;
        }
        assertArrayEquals(expected, got);
        m.backend.close();
    }

    /**
     * Batch invariance at the backend, bit for bit: a sequence's last logits are the same alone, prefilled in two
     * chunks, and inside batches of other sequences on other adapters and of other sizes. The batches switch the
     * kernels' block shapes (4 tokens at a time or 1), the half-precision widening path (from 16 rows on) and the
     * fused gate/up/SiLU dispatch (off when any row has a gate or up adapter) on and off.
     */
    @ParameterizedTest
    @CsvSource({"F32, false", "F32, true", "BF16, false", "BF16, true", "F16, false"})
    void a_sequences_logits_have_the_same_bits_alone_chunked_and_batched_with_any_others(DType dtype,
                                                                                        boolean inHeap) {
        Loaded m = load(TinyModels.model(dtype), 2, inHeap);
        assertEquals(inHeap, m.backend.weightsInHeap());
        int vocab = m.weights.config.vocabSize();
        int[] other7 = {1, 30, 77, 14, 3, 8, 2};
        int[] other3 = {1, 2, 9};
        int[] other8 = {1, 4, 6, 8, 10, 12, 14, 16};
        for (int slot : new int[] {-1, 0}) {
            float[] alone = lastLogits(m.backend, new int[][] {PROMPT}, new int[] {slot})[0];
            float[] chunked = new float[vocab];
            int[] table = blocks(0, PROMPT.length);
            forwardRange(m.backend, PROMPT, 0, 5, table, slot, null);
            forwardRange(m.backend, PROMPT, 5, PROMPT.length, table, slot, chunked);
            assertBits(alone, chunked, dtype + (inHeap ? " in heap" : "") + " slot " + slot + ": prefilled in chunks of 5 and 7");
            // slot 3 adapts gate/up/down (the unfused MLP path), slot 1 every projection
            float[][] mixed = lastLogits(m.backend, new int[][] {other7, PROMPT, other3}, new int[] {3, slot, 1});
            assertBits(alone, mixed[1], dtype + " slot " + slot + ": between sequences on other adapters");
            float[][] large = lastLogits(m.backend, new int[][] {other8, other8, PROMPT, other8},
                    new int[] {-1, 0, slot, -1});
            assertBits(alone, large[2], dtype + " slot " + slot + ": in a batch of 36 rows");
        }
        m.backend.close();
    }

    /**
     * quiver.engine.weights-in-heap packs the F32 weights into panels, whose kernel sums each output in another fixed
     * order than the weights read in place: the logits agree to rounding (the float64 reference's tolerance) and
     * pick the same greedy tokens, and within the heap path decoding one token at a time (the 1-token block) gives
     * the bits of the prompt prefilled whole (6- and 2-token blocks), with and without an adapter.
     */
    @Test
    void f32_weights_in_the_heap_agree_with_weights_in_place_and_decode_gives_the_prefills_bits() {
        Loaded mapped = load(TinyModels.model(DType.F32), 2, false);
        Loaded heap = load(TinyModels.model(DType.F32), 2, true);
        assertTrue(heap.backend.weightsInHeap(), "the tiny model's weights fit the test JVM's heap");
        assertTrue(!mapped.backend.weightsInHeap(), "weights-in-heap off");
        int vocab = mapped.weights.config.vocabSize();
        for (int slot : new int[] {-1, 0, 3}) {
            float[] inPlace = prefillAllRows(mapped.backend, PROMPT, slot);
            float[] prefilled = prefillAllRows(heap.backend, PROMPT, slot);
            float[] step = new float[vocab];
            int[] table = blocks(0, PROMPT.length);
            for (int i = 0; i < PROMPT.length; i++) {
                float[] row = Arrays.copyOfRange(prefilled, i * vocab, (i + 1) * vocab);
                double[] reference = new double[vocab];
                for (int v = 0; v < vocab; v++) {
                    reference[v] = inPlace[i * vocab + v];
                }
                assertClose(reference, row, 0, "slot " + slot + ": heap against in place, position " + i);
                assertEquals(argmax(Arrays.copyOfRange(inPlace, i * vocab, (i + 1) * vocab)), argmax(row),
                        "slot " + slot + ": greedy token at position " + i);
                forwardRange(heap.backend, PROMPT, i, i + 1, table, slot, step);
                assertBits(row, step, "slot " + slot + ": decode step " + i + " against the prefill's row");
            }
        }
        mapped.backend.close();
        heap.backend.close();
    }

    /** One forward over several sequences prefilled from position 0, each in its own blocks; each one's last logits. */
    static float[][] lastLogits(CpuBackend b, int[][] prompts, int[] slotOf) {
        int vocab = b.config().vocabSize();
        List<Integer> tok = new ArrayList<>(), pos = new ArrayList<>(), sl = new ArrayList<>(), sq = new ArrayList<>();
        int[][] tables = new int[prompts.length][];
        int[] last = new int[prompts.length];
        int nextBlock = 0;
        for (int s = 0; s < prompts.length; s++) {
            tables[s] = blocks(nextBlock, prompts[s].length);
            nextBlock += tables[s].length;
            for (int i = 0; i < prompts[s].length; i++) {
                tok.add(prompts[s][i]);
                pos.add(i);
                sl.add(slotOf[s]);
                sq.add(s);
            }
            last[s] = tok.size() - 1;
        }
        float[] logits = new float[prompts.length * vocab];
        b.forward(new ForwardBatch(ints(tok), ints(pos), ints(sl), ints(sq), tables, last), logits);
        float[][] out = new float[prompts.length][];
        for (int s = 0; s < prompts.length; s++) {
            out[s] = java.util.Arrays.copyOfRange(logits, s * vocab, (s + 1) * vocab);
        }
        return out;
    }

    static void assertBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    what + ": logit " + i + ": " + expected[i] + " vs " + actual[i]);
        }
    }

    static void forwardRange(CpuBackend b, int[] tokens, int from, int to, int[] table, int slot, float[] logits) {
        int n = to - from;
        int[] t = new int[n], p = new int[n], s = new int[n], q = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = tokens[from + i];
            p[i] = from + i;
            s[i] = slot;
        }
        float[] out = logits != null ? logits : new float[b.config().vocabSize()];
        b.forward(new ForwardBatch(t, p, s, q, new int[][] {table}, new int[] {n - 1}), out);
    }

    static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
