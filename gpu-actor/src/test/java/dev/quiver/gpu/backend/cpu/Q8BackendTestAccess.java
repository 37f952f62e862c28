package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.model.DType;
import java.nio.file.Path;
import java.util.Arrays;

/** The Q8_0 test model and a greedy decode through a backend, for tests outside this package. */
public final class Q8BackendTestAccess {
    private Q8BackendTestAccess() {
    }

    /** The tiny test model whose rows are multiples of 32 (so it quantises to Q8_0). */
    public static Path model(DType dtype) {
        return Q8BackendTest.model(dtype);
    }

    /** Greedy tokens after the prompt: one prefill, then one cached decode step per token, as sequence 0. */
    public static int[] greedy(CpuBackend b, int[] prompt, int steps) {
        int vocab = b.config().vocabSize();
        int[] seq = Arrays.copyOf(prompt, prompt.length + steps);
        int[] table = new int[(seq.length + b.blockSize() - 1) / b.blockSize()];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        float[] logits = new float[vocab];
        int[] out = new int[steps];
        int from = 0;
        for (int i = 0; i < steps; i++) {
            int to = prompt.length + i;
            int n = to - from;
            int[] tok = Arrays.copyOfRange(seq, from, to);
            int[] pos = new int[n], slot = new int[n], sq = new int[n];
            for (int j = 0; j < n; j++) {
                pos[j] = from + j;
                slot[j] = -1;
            }
            b.forward(new ForwardBatch(tok, pos, slot, sq, new int[][] {table}, new int[] {n - 1}), logits);
            out[i] = CpuBackendReferenceTest.argmax(logits);
            seq[to] = out[i];
            from = to;
        }
        return out;
    }
}
