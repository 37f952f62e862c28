package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.WeightMatrix;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Q8_0 quantisation at load as llama.cpp defines it (ggml's quantize_row_q8_0_ref): per block of 32 weights of a
 * row, d = max|x| / 127 stored as fp16, q = roundf(x · (1/d)); a weight reads back as q · fp16(d).
 */
class Q8MatrixTest {
    static WeightMatrix f32(String name, int rows, int cols, float[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return new WeightMatrix(name, rows, cols, DType.F32, b);
    }

    static float[] random(int n, long seed, double range) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-range, range);
        }
        return v;
    }

    /** The definition computed directly: float d and 1/d, C roundf (half away from zero) through BigDecimal. */
    static void assertQuantisedAsDefined(float[] x, int rows, int cols, Q8Matrix q) {
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) {
                    amax = Math.max(amax, Math.abs(x[r * cols + b * 32 + j]));
                }
                float d = amax / 127f;
                float id = d == 0 ? 0 : 1f / d;
                float fp16 = DTypes.f16ToFloat(DTypes.floatToF16(d));
                assertTrue(Math.abs(fp16 - d) <= d * 0x1p-11, "fp16 rounding of the scale");
                for (int j = 0; j < 32; j++) {
                    int c = b * 32 + j;
                    float v = x[r * cols + c] * id;
                    int expected = new BigDecimal(v).setScale(0, RoundingMode.HALF_UP).intValueExact();
                    assertEquals(fp16, q.scale(r, c), "scale of row " + r + " block " + b);
                    assertEquals(expected, q.quant(r, c), "quant of (" + r + ", " + c + ") = " + x[r * cols + c]);
                    assertEquals(expected * fp16, q.get(r, c), "dequantised (" + r + ", " + c + ")");
                }
            }
        }
    }

    @Test
    void quantises_every_block_with_its_own_fp16_scale_and_roundf_quants() {
        int rows = 5, cols = 96;
        float[] x = random(rows * cols, 1, 3);
        Q8Matrix q = Q8Matrix.quantize(f32("m", rows, cols, x));
        assertQuantisedAsDefined(x, rows, cols, q);
        assertEquals(rows * cols + 4L * rows * 3, q.bytes());
    }

    @Test
    void round_trip_error_is_at_most_half_a_step_plus_the_fp16_scale_error() {
        int rows = 7, cols = 64;
        float[] x = random(rows * cols, 2, 0.05);
        Q8Matrix q = Q8Matrix.quantize(f32("m", rows, cols, x));
        float[] back = q.dequantize();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) {
                    amax = Math.max(amax, Math.abs(x[r * cols + c / 32 * 32 + j]));
                }
                double d = amax / 127.0;
                double bound = d / 2 * (1 + 1e-4) + 127 * Math.abs(q.scale(r, c) - amax / 127f);
                assertTrue(Math.abs(back[r * cols + c] - x[r * cols + c]) <= bound, "(" + r + ", " + c + ")");
            }
        }
    }

    @Test
    void halves_round_away_from_zero_as_c_roundf_does() {
        float[] x = new float[32];
        x[0] = 127f; // d = 1 exactly, so x · (1/d) = x
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 0.5f;
        x[4] = -0.5f;
        x[5] = 1.4999999f;
        x[6] = -127f;
        Q8Matrix q = Q8Matrix.quantize(f32("m", 1, 32, x));
        assertEquals(1f, q.scale(0, 0));
        int[] expected = {127, 3, -3, 1, -1, 1, -127};
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], q.quant(0, j), "x = " + x[j]);
        }
    }

    @Test
    void an_all_zero_block_gets_scale_zero_and_reads_back_as_zeros_not_nan() {
        float[] x = random(64, 3, 1);
        java.util.Arrays.fill(x, 32, 64, 0f);
        Q8Matrix q = Q8Matrix.quantize(f32("m", 1, 64, x));
        assertEquals(0f, q.scale(0, 40));
        for (int c = 32; c < 64; c++) {
            assertEquals(0, q.quant(0, c));
            assertEquals(0f, q.get(0, c));
        }
        assertQuantisedAsDefined(x, 1, 64, q);
    }

    @Test
    void one_large_outlier_takes_the_whole_range_and_the_small_weights_of_its_block_vanish() {
        float[] x = random(64, 4, 0.01);
        x[10] = 1000f;
        Q8Matrix q = Q8Matrix.quantize(f32("m", 1, 64, x));
        assertEquals(127, q.quant(0, 10));
        assertEquals(DTypes.f16ToFloat(DTypes.floatToF16(1000f / 127f)), q.scale(0, 10));
        assertEquals(1000f, q.get(0, 10), 1000f * 0x1p-11, "the outlier itself survives within fp16 rounding");
        for (int c = 0; c < 32; c++) {
            if (c != 10) {
                assertEquals(0, q.quant(0, c), "small weight " + c + " shares the outlier's scale of ~7.9");
            }
        }
        // the next block has its own scale and keeps its small weights
        assertTrue(q.scale(0, 40) < 0.01f / 127 * 1.01);
        assertQuantisedAsDefined(x, 1, 64, q);
    }

    @Test
    void refuses_rows_that_are_not_a_multiple_of_32_naming_the_matrix() {
        WeightMatrix w = f32("model.layers.0.mlp.down_proj.weight", 2, 48, random(96, 5, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Q8Matrix.quantize(w));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.down_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("48") && e.getMessage().contains("multiple of 32"), e.getMessage());
    }

    @Test
    void refuses_a_non_finite_weight_naming_matrix_and_row() {
        float[] x = random(64, 6, 1);
        x[33] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Q8Matrix.quantize(f32("w", 2, 32, x)));
        assertTrue(e.getMessage().contains("w: row 1"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void half_precision_files_quantise_their_widened_values(DType dtype) {
        int rows = 6, cols = 64;
        WeightMatrix half = VectorKernelsDifferentialTest.matrix(dtype, rows, cols, 9);
        float[] widened = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            half.row(r, widened, r * cols);
        }
        assertQuantisedAsDefined(widened, rows, cols, Q8Matrix.quantize(half));
    }

    @Test
    void quantising_on_several_threads_gives_the_same_matrix() {
        int rows = 70, cols = 64;
        WeightMatrix w = f32("m", rows, cols, random(rows * cols, 7, 1));
        Q8Matrix one = Q8Matrix.quantize(w);
        try (Parallel p = new Parallel(3)) {
            Q8Matrix many = Q8Matrix.quantize(w, p);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    assertEquals(one.quant(r, c), many.quant(r, c));
                    assertEquals(one.scale(r, c), many.scale(r, c));
                }
            }
        }
    }
}
