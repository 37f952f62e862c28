package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

/**
 * CPU-vs-device parity checks shared by {@link TwinBackendParityTest} (kernel twins, runs everywhere) and
 * {@link CudaBackendGpuTest} (the real kernels, runs only with a GPU): the same batches through the CPU
 * reference backend and a {@link DeviceBackend}, logits compared within a tolerance and greedy tokens exactly.
 */
final class ParityChecks {
    static final int BLOCK = 4;
    static final int BLOCKS = 64;
    static final int SLOTS = 4;

    private ParityChecks() {
    }

    /** Makes the device backend under test for some weights and settings. */
    interface Factory extends BiFunction<ModelWeights, DeviceBackend.Settings, DeviceBackend> {
    }

    record Pair(ModelWeights weights, List<LoraAdapter> adapters, CpuBackend cpu, DeviceBackend device)
            implements AutoCloseable {
        int vocab() {
            return weights.config.vocabSize();
        }

        @Override
        public void close() {
            cpu.close();
            device.close();
            weights.close();
        }
    }

    /** Both backends over the model in dir, with its first four adapters in slots 0..3 of each. */
    static Pair load(Path dir, Factory device, int tensorCoreMinRows) {
        ModelWeights w = ModelWeights.load(dir);
        List<LoraAdapter> adapters = new ArrayList<>();
        for (ModelMaker.AdapterSpec s : ModelMaker.demoAdapters(SLOTS)) {
            adapters.add(AdapterLoader.load(dir.resolve("adapters").resolve(s.name()), s.name(), w.config, 64));
        }
        CpuBackend cpu = new CpuBackend(w, new CpuBackend.Settings(1, BLOCKS, BLOCK, SLOTS));
        DeviceBackend d = device.apply(w, new DeviceBackend.Settings(BLOCKS, BLOCK, SLOTS, 64, 64, tensorCoreMinRows));
        for (int i = 0; i < adapters.size(); i++) {
            cpu.loadSlot(i, adapters.get(i));
            d.loadSlot(i, adapters.get(i));
        }
        return new Pair(w, adapters, cpu, d);
    }

    /** Sequences with their prompts, each in its own contiguous run of blocks, using adapter slot slotOf[s]. */
    record Batch(int[][] prompts, int[] slotOf) {
        int[][] tables() {
            int[][] t = new int[prompts.length][];
            for (int s = 0; s < prompts.length; s++) {
                t[s] = new int[BLOCKS / prompts.length];
                for (int i = 0; i < t[s].length; i++) {
                    t[s][i] = s * t[s].length + i;
                }
            }
            return t;
        }

        /** Rows [from, to) of every sequence (clipped to its prompt); logits of each sequence's last row. */
        ForwardBatch rows(int from, int to) {
            List<Integer> tok = new ArrayList<>(), pos = new ArrayList<>(), sl = new ArrayList<>(), sq = new ArrayList<>();
            List<Integer> last = new ArrayList<>();
            for (int s = 0; s < prompts.length; s++) {
                int end = Math.min(to, prompts[s].length);
                for (int i = from; i < end; i++) {
                    tok.add(prompts[s][i]);
                    pos.add(i);
                    sl.add(slotOf[s]);
                    sq.add(s);
                }
                if (end > from) {
                    last.add(tok.size() - 1);
                }
            }
            return new ForwardBatch(ints(tok), ints(pos), ints(sl), ints(sq), tables(), ints(last));
        }
    }

    /** Base rows and all four adapters (slot 0 twice, in two sequences), prompts of different lengths. */
    static final Batch MIXED = new Batch(new int[][] {{1, 5, 9}, {1, 17, 42, 5, 88, 23, 61, 9, 30, 77, 14, 3},
            {1, 2, 60, 7, 7}, {1, 30, 77, 14, 3, 8}, {1, 44, 45}, {1, 8, 8, 19}}, new int[] {-1, 0, 2, 3, 0, 1});

    /** Only the base model. */
    static final Batch BASE = new Batch(new int[][] {{1, 17, 42, 5, 88, 23, 61, 9, 30, 77, 14, 3}, {1, 9}},
            new int[] {-1, -1});

    static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    static float[] forward(Backend b, ForwardBatch fb) {
        float[] logits = new float[fb.logitRows().length * b.config().vocabSize()];
        b.forward(fb, logits);
        return logits;
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        double scale = 0;
        double maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
            scale = Math.max(scale, Math.abs(want[i]));
            maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
        }
        assertTrue(maxDiff <= tol * Math.max(1, scale), what + ": max |diff| " + maxDiff + " at logit scale " + scale);
    }

    static int[] argmax(float[] logits, int vocab) {
        int[] ids = new int[logits.length / vocab];
        for (int r = 0; r < ids.length; r++) {
            int best = 0;
            for (int v = 1; v < vocab; v++) {
                if (logits[r * vocab + v] > logits[r * vocab + best]) {
                    best = v;
                }
            }
            ids[r] = best;
        }
        return ids;
    }

    /** The whole batch prefilled in one step: logits close, greedy tokens equal. */
    static void prefillMatches(Pair p, Batch batch, double tol) {
        ForwardBatch fb = batch.rows(0, 64);
        float[] want = forward(p.cpu(), fb);
        float[] got = forward(p.device(), fb);
        assertClose(want, got, tol, "prefill");
        assertArrayEquals(argmax(want, p.vocab()), argmax(got, p.vocab()), "greedy tokens after prefill");
    }

    /**
     * Prefill in chunks of 5 rows per sequence (later chunks attend to earlier ones through the paged cache), then
     * greedy decode of every sequence, one row each per step: logits close and tokens equal at every step, and the
     * device's argmax kernel picks the same tokens.
     */
    static void chunkedPrefillThenDecodeMatches(Pair p, Batch batch, int decodeSteps, double tol) {
        int longest = Arrays.stream(batch.prompts()).mapToInt(a -> a.length).max().orElse(0);
        for (int from = 0; from < longest; from += 5) {
            ForwardBatch fb = batch.rows(from, from + 5);
            assertClose(forward(p.cpu(), fb), forward(p.device(), fb), tol, "prefill chunk at " + from);
        }
        int[][] seqs = new int[batch.prompts().length][];
        for (int s = 0; s < seqs.length; s++) {
            seqs[s] = batch.prompts()[s].clone();
        }
        for (int step = 0; step < decodeSteps; step++) {
            List<Integer> tok = new ArrayList<>(), pos = new ArrayList<>(), sl = new ArrayList<>(), sq = new ArrayList<>();
            int[] rows = new int[seqs.length];
            for (int s = 0; s < seqs.length; s++) {
                tok.add(seqs[s][seqs[s].length - 1]);
                pos.add(seqs[s].length - 1);
                sl.add(batch.slotOf()[s]);
                sq.add(s);
                rows[s] = s;
            }
            // step 0 decodes the last prompt token again: it rewrites the same K/V and yields the first new token
            ForwardBatch fb = new ForwardBatch(ints(tok), ints(pos), ints(sl), ints(sq), batch.tables(), rows);
            float[] want = forward(p.cpu(), fb);
            float[] got = forward(p.device(), fb);
            assertClose(want, got, tol, "decode step " + step);
            int[] ids = argmax(want, p.vocab());
            assertArrayEquals(ids, argmax(got, p.vocab()), "greedy tokens at decode step " + step);
            assertArrayEquals(ids, p.device().argmaxOfLastStep(), "argmax_rows at decode step " + step);
            for (int s = 0; s < seqs.length; s++) {
                seqs[s] = Arrays.copyOf(seqs[s], seqs[s].length + 1);
                seqs[s][seqs[s].length - 1] = ids[s];
            }
        }
    }

    /**
     * Runs the same steps (the MIXED batch prefilled, then one row of each sequence) through two device backends
     * with the same adapters and compares, after every launch, the buffer that launch writes; fails naming the
     * first launch whose output differs. On a GPU, this tells which kernel breaks parity.
     */
    static void launchesAgree(Path dir, Factory reference, Factory other, int tensorCoreMinRows, double tol) {
        try (ModelWeights w = ModelWeights.load(dir)) {
            DeviceBackend.Settings s = new DeviceBackend.Settings(BLOCKS, BLOCK, SLOTS, 64, 64, tensorCoreMinRows);
            DeviceBackend a = reference.apply(w, s);
            DeviceBackend b = other.apply(w, s);
            try {
                int i = 0;
                for (ModelMaker.AdapterSpec spec : ModelMaker.demoAdapters(SLOTS)) {
                    LoraAdapter ad = AdapterLoader.load(dir.resolve("adapters").resolve(spec.name()), spec.name(),
                            w.config, 64);
                    a.loadSlot(i, ad);
                    b.loadSlot(i, ad);
                    i++;
                }
                for (ForwardBatch fb : List.of(MIXED.rows(0, 64), MIXED.rows(2, 3))) {
                    List<Launch> plan = new ArrayList<>();
                    List<float[]> want = trace(a, fb, new ArrayList<>());
                    List<float[]> got = trace(b, fb, plan);
                    for (int l = 0; l < want.size(); l++) {
                        assertClose(want.get(l), got.get(l), tol, "launch " + l + " of " + want.size() + " ("
                                + plan.get(l).kernel().entry + " " + plan.get(l).args() + ") in a step of "
                                + fb.rows() + " rows");
                    }
                }
            } finally {
                a.close();
                b.close();
            }
        }
    }

    /** Runs one step, snapshotting after each launch the buffer it wrote; the launches go to {@code plan}. */
    private static List<float[]> trace(DeviceBackend d, ForwardBatch fb, List<Launch> plan) {
        List<float[]> out = new ArrayList<>();
        d.traceLaunches(l -> {
            plan.add(l);
            out.add(d.snapshot(l.ptr(l.kernel().output).buffer()));
        });
        forward(d, fb);
        d.traceLaunches(null);
        return out;
    }

    /** Adapters moved to other slots give the same results; a cleared slot is refused. */
    static void resultsFollowTheAdapterNotTheSlot(Pair p, double tol) {
        ForwardBatch fb = MIXED.rows(0, 64);
        float[] want = forward(p.cpu(), fb);
        p.device().loadSlot(0, p.adapters().get(3));
        p.device().loadSlot(3, p.adapters().get(0));
        int[] swapped = MIXED.slotOf().clone();
        for (int i = 0; i < swapped.length; i++) {
            swapped[i] = swapped[i] == 0 ? 3 : swapped[i] == 3 ? 0 : swapped[i];
        }
        ForwardBatch fbSwapped = new Batch(MIXED.prompts(), swapped).rows(0, 64);
        assertClose(want, forward(p.device(), fbSwapped), tol, "adapters in swapped slots");
        p.device().clearSlot(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> forward(p.device(), fbSwapped));
        assertTrue(e.getMessage().contains("empty adapter slot 2"), e.getMessage());
    }
}
