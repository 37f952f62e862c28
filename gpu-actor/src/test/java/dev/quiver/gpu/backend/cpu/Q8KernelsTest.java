package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.WeightMatrix;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Q8_0 kernels against their readable twin ({@link ScalarKernels#laneOrderDot} over {@link Q8Matrix#row}) bit
 * for bit in every path, against a float64 product of the dequantised weights within float rounding, and
 * batch-invariant: a token's bits do not depend on its batch, alone, in the in-register path or in the tile path.
 */
class Q8KernelsTest {
    static final int L = Q8Kernels.L;

    static Q8Matrix q8(int rows, int cols, long seed) {
        return Q8Matrix.quantize(VectorKernelsDifferentialTest.matrix(DType.F32, rows, cols, seed));
    }

    static float[] mul(Q8Matrix w, float[] x, int tokens) {
        float[] y = new float[tokens * w.rows()];
        new CpuMatrix(null, w).mul(x, tokens, y, w.rows(), 0, 0, w.rows(), false, new CpuMatrix.Scratch());
        return y;
    }

    static void assertTwinExact(Q8Matrix w, float[] x, int tokens, float[] y, int yStride, int yOff, int r0, int r1,
                                String what) {
        float[] row = new float[w.cols()];
        for (int r = r0; r < r1; r++) {
            w.row(r, row, 0);
            for (int t = 0; t < tokens; t++) {
                float expected = ScalarKernels.laneOrderDot(row, 0, x, t * w.cols(), w.cols(), L);
                float actual = y[t * yStride + yOff + r];
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                        what + ": token " + t + " row " + r + ": twin " + expected + ", kernel " + actual);
            }
        }
    }

    @ParameterizedTest(name = "{0} columns")
    @ValueSource(ints = {32, 64, 96, 256})
    void every_path_gives_the_twins_bits_for_1_to_9_and_17_tokens(int cols) {
        int rows = 13; // three 4-row groups and a single row
        Q8Matrix w = q8(rows, cols, cols);
        for (int tokens : new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 17}) {
            float[] x = VectorKernelsDifferentialTest.activations(tokens, cols, 100 + tokens);
            assertTwinExact(w, x, tokens, mul(w, x, tokens), w.rows(), 0, 0, rows, cols + " cols, " + tokens + " tokens");
        }
    }

    @Test
    void products_are_within_float_rounding_of_float64_on_the_dequantised_weights() {
        int rows = 9, cols = 128, tokens = 6;
        Q8Matrix w = q8(rows, cols, 11);
        float[] x = VectorKernelsDifferentialTest.activations(tokens, cols, 12);
        float[] y = mul(w, x, tokens);
        float[] single = mul(w, Arrays.copyOf(x, cols), 1);
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0, absSum = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) w.get(r, c) * x[t * cols + c];
                    exact += p;
                    absSum += Math.abs(p);
                }
                double bound = cols * 0x1p-24 * absSum;
                assertTrue(Math.abs(exact - y[t * rows + r]) <= bound, "token " + t + " row " + r + ": "
                        + y[t * rows + r] + " vs " + exact + " (bound " + bound + ")");
                if (t == 0) {
                    assertTrue(Math.abs(exact - single[r]) <= bound, "decode path, row " + r);
                }
            }
        }
    }

    @Test
    void one_token_gives_identical_bits_alone_and_at_every_position_of_any_batch() {
        int rows = 19, cols = 96;
        Q8Matrix w = q8(rows, cols, 77);
        float[] token = VectorKernelsDifferentialTest.activations(1, cols, 3);
        float[] alone = mul(w, token, 1);
        // 2 and 3 stay in registers; from TILE_FROM_TOKENS on the tile path; 5, 9 and 18 leave 4-token remainders
        for (int batch : new int[] {2, 3, Q8Kernels.TILE_FROM_TOKENS, 5, 9, 18}) {
            for (int pos = 0; pos < batch; pos++) {
                float[] x = VectorKernelsDifferentialTest.activations(batch, cols, 500 + batch * 10 + pos);
                System.arraycopy(token, 0, x, pos * cols, cols);
                float[] y = mul(w, x, batch);
                VectorKernelsDifferentialTest.assertBitsEqual(alone, Arrays.copyOfRange(y, pos * rows, (pos + 1) * rows),
                        "token alone vs at position " + pos + " of " + batch);
            }
        }
    }

    @Test
    void row_range_lands_at_offset_and_stride_and_accumulate_adds() {
        int rows = 21, cols = 64, tokens = 5, stride = 40, off = 7, r0 = 3, r1 = 19;
        Q8Matrix w = q8(rows, cols, 5);
        for (int t : new int[] {1, tokens}) {
            float[] x = VectorKernelsDifferentialTest.activations(t, cols, 6);
            float[] full = mul(w, x, t);
            float[] y = new float[t * stride];
            Arrays.fill(y, -7f);
            new CpuMatrix(null, w).mul(x, t, y, stride, off, r0, r1, false, new CpuMatrix.Scratch());
            for (int k = 0; k < t; k++) {
                for (int j = 0; j < stride; j++) {
                    int r = j - off;
                    float expected = r >= r0 && r < r1 ? full[k * rows + r] : -7f;
                    assertEquals(expected, y[k * stride + j], t + " tokens, token " + k + " column " + j);
                }
            }
            float[] acc = VectorKernelsDifferentialTest.activations(t, rows, 10);
            float[] before = acc.clone();
            new CpuMatrix(null, w).mul(x, t, acc, rows, 0, 0, rows, true, new CpuMatrix.Scratch());
            for (int i = 0; i < acc.length; i++) {
                assertEquals(before[i] + full[i], acc[i], t + " tokens, accumulated element " + i);
            }
        }
    }

    /** The same bits once C2 has compiled both paths (a lane sum once went wrong only in compiled code). */
    @Test
    void stays_twin_exact_once_compiled() {
        int rows = 9, cols = 128;
        Q8Matrix w = q8(rows, cols, 70);
        float[] x1 = VectorKernelsDifferentialTest.activations(1, cols, 71);
        float[] x6 = VectorKernelsDifferentialTest.activations(6, cols, 72);
        CpuMatrix m = new CpuMatrix(null, w);
        CpuMatrix.Scratch s = new CpuMatrix.Scratch();
        float[] y1 = new float[rows];
        float[] y6 = new float[6 * rows];
        for (int rep = 0; rep < 20_000; rep++) {
            m.mul(x1, 1, y1, rows, 0, 0, rows, false, s);
            m.mul(x6, 6, y6, rows, 0, 0, rows, false, s);
            if (rep % 5000 == 4999) {
                assertTwinExact(w, x1, 1, y1, rows, 0, 0, rows, "decode path, repetition " + rep);
                assertTwinExact(w, x6, 6, y6, rows, 0, 0, rows, "tile path, repetition " + rep);
            }
        }
    }

    @Test
    void tile_dequantisation_equals_the_scalar_product_of_quant_and_scale() {
        Q8Matrix w = q8(5, 96, 3);
        float[] tile = new float[5 * 96];
        Q8Kernels.dequantRows(w, 0, 5, tile);
        VectorKernelsDifferentialTest.assertBitsEqual(w.dequantize(), tile, "dequantised rows");
    }

    /** Sanity for the helpers above: a weight matrix of this test's kind and its Q8_0 copy are close. */
    @Test
    void quantised_matrix_stays_close_to_its_source() {
        WeightMatrix src = VectorKernelsDifferentialTest.matrix(DType.F32, 4, 64, 8);
        Q8Matrix w = Q8Matrix.quantize(src);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 64; c++) {
                assertEquals(src.get(r, c), w.get(r, c), 1.0 / 127, "(" + r + ", " + c + ")");
            }
        }
    }
}
