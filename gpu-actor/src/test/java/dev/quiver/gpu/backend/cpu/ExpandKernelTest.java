package dev.quiver.gpu.backend.cpu;

import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.activations;
import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.assertBitsEqual;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The LoRA expand ({@link VectorKernels#expand}) against its twin, bit for bit: each output is the FMA chain over the
 * rank in order from zero, y[o] = fma(Bᵀ[k][o], t[k], y[o]); for ranks 0 to 17, output ranges cut anywhere (with and
 * without a vector tail), elements outside the range untouched, and once C2 has compiled it.
 */
class ExpandKernelTest {
    static final int L = VectorKernels.L;

    static float[] twin(float[] bt, int rank, int out, float[] t, int tOff, int o0, int o1) {
        float[] y = new float[out];
        for (int o = o0; o < o1; o++) {
            float acc = 0f;
            for (int k = 0; k < rank; k++) {
                acc = Math.fma(bt[k * out + o], t[tOff + k], acc);
            }
            y[o] = acc;
        }
        return y;
    }

    @Test
    void every_rank_and_range_gives_the_twins_bits_and_touches_nothing_else() {
        for (int out : new int[] {1, L - 1, 3 * L + 5, 8 * L}) {
            for (int rank : new int[] {0, 1, 2, 7, 16, 17}) {
                float[] bt = activations(Math.max(rank, 1), out, 200 + out * 31L + rank);
                float[] t = activations(1, rank + 3, 201 + rank);
                int[][] ranges = {{0, out}, {0, out / 2}, {out / 3, out}, {1 % out, out - (out > 2 ? 1 : 0)}};
                for (int[] r : ranges) {
                    float[] y = new float[out + 4];
                    Arrays.fill(y, 7f);
                    VectorKernels.expand(bt, rank, out, t, 3, y, 2, r[0], r[1]);
                    float[] want = twin(bt, rank, out, t, 3, r[0], r[1]);
                    for (int i = 0; i < y.length; i++) {
                        int o = i - 2;
                        float expected = o >= r[0] && o < r[1] ? want[o] : 7f;
                        assertBitsEqual(new float[] {expected}, new float[] {y[i]},
                                "out " + out + ", rank " + rank + ", range [" + r[0] + ", " + r[1] + "), element " + i);
                    }
                }
            }
        }
    }

    @Test
    void stays_exact_once_compiled() {
        int out = 5 * L + 3, rank = 16;
        float[] bt = activations(rank, out, 210);
        float[] t = activations(1, rank, 211);
        float[] want = twin(bt, rank, out, t, 0, 0, out);
        float[] y = new float[out];
        for (int rep = 0; rep < 20_000; rep++) {
            VectorKernels.expand(bt, rank, out, t, 0, y, 0, 0, out);
            if (rep % 5000 == 4999) {
                assertBitsEqual(want, y, "repetition " + rep);
            }
        }
    }
}
