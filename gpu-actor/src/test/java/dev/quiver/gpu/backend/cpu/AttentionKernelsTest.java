package dev.quiver.gpu.backend.cpu;

import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.activations;
import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.assertBitsEqual;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The attention kernels against the plain forms they replace, bit for bit: {@link VectorKernels#dot4} against four
 * {@link VectorKernels#dot}s, and {@link VectorKernels#weightedSum} against an element-wise FMA per position onto a
 * zeroed output (the axpy loop attention ran before), for head sizes with and without a vector tail, in the
 * interpreter and once C2 has compiled them.
 */
class AttentionKernelsTest {
    static final int L = VectorKernels.L;

    /** out = fma(p[j], v[j], out) for j in order, element by element: the twin of weightedSum. */
    static float[] axpyTwin(float[] p, int len, float[] v, int[] offs, int n) {
        float[] out = new float[n];
        for (int j = 0; j < len; j++) {
            for (int i = 0; i < n; i++) {
                out[i] = Math.fma(p[j], v[offs[j] + i], out[i]);
            }
        }
        return out;
    }

    static int[] offsets(int len, int n, int stride, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] offs = new int[len];
        for (int j = 0; j < len; j++) {
            offs[j] = r.nextInt(40) * stride + (j % 3) * n; // scattered, as a block table scatters positions
        }
        return offs;
    }

    @Test
    void dot4_gives_four_dots_bits_and_weighted_sum_gives_the_fma_loops_bits() {
        for (int n : new int[] {1, 7, L, 2 * L + 3, 4 * L, 8 * L, 9 * L + 5}) {
            int stride = 3 * n + 1;
            float[] cache = activations(41, stride, 100 + n);
            float[] q = activations(1, n + 2, 101 + n);
            float[] lanes = new CpuMatrix.Scratch().lanes;
            for (int len : new int[] {1, 4, 13}) {
                int[] offs = offsets(len, n, stride, 102 + len);
                float[] got = new float[len + 4];
                for (int j = 0; j + 4 <= len; j += 4) {
                    VectorKernels.dot4(q, 2, cache, offs[j], offs[j + 1], offs[j + 2], offs[j + 3], n, lanes, got, j);
                    for (int k = 0; k < 4; k++) {
                        assertEquals(Float.floatToRawIntBits(VectorKernels.dot(q, 2, cache, offs[j + k], n, lanes)),
                                Float.floatToRawIntBits(got[j + k]), "dot4 lane " + k + ", head size " + n);
                    }
                }
                float[] p = activations(1, len, 103 + len);
                float[] out = new float[n + 5];
                VectorKernels.weightedSum(p, len, cache, offs, out, 5, n);
                float[] want = axpyTwin(p, len, cache, offs, n);
                float[] part = new float[n];
                System.arraycopy(out, 5, part, 0, n);
                assertBitsEqual(want, part, "weighted sum of " + len + " positions, head size " + n);
            }
        }
    }

    @Test
    void stay_exact_once_compiled() {
        int n = 4 * L + 3, len = 21, stride = 3 * n + 1;
        float[] cache = activations(41, stride, 110);
        float[] q = activations(1, n, 111);
        float[] p = activations(1, len, 112);
        int[] offs = offsets(len, n, stride, 113);
        float[] lanes = new CpuMatrix.Scratch().lanes;
        float[] want = axpyTwin(p, len, cache, offs, n);
        float[] dots = new float[4];
        float[] out = new float[n];
        for (int rep = 0; rep < 20_000; rep++) {
            VectorKernels.weightedSum(p, len, cache, offs, out, 0, n);
            VectorKernels.dot4(q, 0, cache, offs[0], offs[5], offs[9], offs[20], n, lanes, dots, 0);
            if (rep % 5000 == 4999) {
                assertBitsEqual(want, out, "weighted sum, repetition " + rep);
                assertEquals(Float.floatToRawIntBits(VectorKernels.dot(q, 0, cache, offs[20], n, lanes)),
                        Float.floatToRawIntBits(dots[3]), "dot4, repetition " + rep);
            }
        }
    }
}
