package dev.quiver.gpu.bench.peer;

import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.worker.EngineSettings;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Quiver's side of the peer benchmark: the same procedure as the llama.cpp driver, through {@link
 * CpuBackend#forward} (no scheduler, sampling or actors; llama.cpp's side has none either). One backend per model,
 * with KV room for the largest measurement; an adapter sits in slot 0 and every row uses it (llama.cpp applies one
 * adapter set per context), or no row uses one.
 */
final class QuiverRunner implements AutoCloseable {
    private static final int BLOCK = 16;
    private final ModelWeights weights;
    private final CpuBackend backend;
    private final int blocksPerSeq;
    private final int maxSeqs;

    QuiverRunner(ModelWeights weights, Path adapter, int threads, int maxSeqs, int maxTokensPerSeq,
                 WeightFormat format) {
        this.weights = weights;
        this.maxSeqs = maxSeqs;
        this.blocksPerSeq = (maxTokensPerSeq + BLOCK - 1) / BLOCK + 1;
        this.backend = new CpuBackend(weights, new CpuBackend.Settings(threads, maxSeqs * blocksPerSeq, BLOCK, 1,
                format, EngineSettings.fromConfig(ConfigFactory.load()).weightsInHeap()));
        if (adapter != null) {
            backend.loadSlot(0, AdapterLoader.load(adapter, "peer", weights.config, 256));
        }
    }

    /** Same as the driver's greedy mode, with the chosen token's and the top-k log-probabilities in double. */
    List<GreedyStep> greedy(PeerWork work, boolean adapter, int top) {
        int vocab = weights.config.vocabSize();
        int slot = adapter ? 0 : -1;
        int[][] tables = tables(1);
        float[] logits = new float[vocab];
        prefill(work.prompts()[0], 0, slot, tables, logits);
        GreedyStep[] steps = new GreedyStep[work.steps()];
        Integer[] idx = new Integer[vocab];
        for (int s = 0; s < work.steps(); s++) {
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) {
                max = Math.max(max, l);
            }
            double z = 0;
            for (float l : logits) {
                z += Math.exp(l - max);
            }
            double lse = max + Math.log(z);
            for (int v = 0; v < vocab; v++) {
                idx[v] = v;
            }
            float[] lg = logits;
            Arrays.sort(idx, (a, b) -> lg[a] != lg[b] ? Float.compare(lg[b], lg[a]) : Integer.compare(a, b));
            int[] ids = new int[top];
            double[] lps = new double[top];
            for (int k = 0; k < top; k++) {
                ids[k] = idx[k];
                lps[k] = lg[idx[k]] - lse;
            }
            steps[s] = new GreedyStep(ids[0], lps[0], ids, lps);
            backend.forward(new ForwardBatch(new int[] {ids[0]}, new int[] {work.promptTokens() + s},
                    new int[] {slot}, new int[] {0}, tables, new int[] {0}), logits);
        }
        return List.of(steps);
    }

    /** Same as the driver's bench mode; returns {prefill seconds, decode seconds}. */
    double[] bench(PeerWork work, boolean adapter) {
        int seqs = work.seqs();
        if (seqs > maxSeqs) {
            throw new IllegalArgumentException(seqs + " sequences, room for " + maxSeqs);
        }
        int vocab = weights.config.vocabSize();
        int slot = adapter ? 0 : -1;
        int[][] tables = tables(seqs);
        float[] last = new float[vocab];
        long t0 = System.nanoTime();
        for (int s = 0; s < seqs; s++) {
            prefill(work.prompts()[s], s, slot, tables, last);
        }
        long t1 = System.nanoTime();
        int[] pos = new int[seqs];
        int[] slots = new int[seqs];
        int[] seq = new int[seqs];
        Arrays.fill(slots, slot);
        Arrays.setAll(seq, i -> i);
        float[] logits = new float[seqs * vocab];
        for (int step = 0; step < work.steps(); step++) {
            Arrays.fill(pos, work.promptTokens() + step);
            backend.forward(new ForwardBatch(work.feed()[step], pos, slots, seq, tables, seq), logits);
        }
        long t2 = System.nanoTime();
        return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
    }

    private void prefill(int[] prompt, int seqId, int slot, int[][] tables, float[] logits) {
        int n = prompt.length;
        int[] pos = new int[n];
        int[] slots = new int[n];
        int[] seq = new int[n];
        Arrays.setAll(pos, i -> i);
        Arrays.fill(slots, slot);
        Arrays.fill(seq, seqId);
        backend.forward(new ForwardBatch(prompt, pos, slots, seq, tables, new int[] {n - 1}), logits);
    }

    /** Sequence s owns blocks [s * blocksPerSeq, (s + 1) * blocksPerSeq). */
    private int[][] tables(int seqs) {
        int[][] t = new int[seqs][blocksPerSeq];
        for (int s = 0; s < seqs; s++) {
            for (int j = 0; j < blocksPerSeq; j++) {
                t[s][j] = s * blocksPerSeq + j;
            }
        }
        return t;
    }

    @Override
    public void close() {
        backend.close();
    }
}
