package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.WeightMatrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Vector API kernels against their readable scalar twins ({@link ScalarKernels}, {@link DTypes}): the
 * same products within float rounding for every weight dtype and awkward sizes (columns that are not a
 * multiple of the vector length, row counts that are not a multiple of the widening tile, 1 to 9 tokens),
 * and bit-identical results for a token whatever batch it is computed in.
 */
class VectorKernelsDifferentialTest {
    static final int L = VectorKernels.lanes();

    /** A weight matrix in the given dtype, stored little-endian in a direct buffer as a mapped file would be. */
    static WeightMatrix matrix(DType dtype, int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        ByteBuffer b = ByteBuffer.allocateDirect(rows * cols * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            float v = (float) r.nextDouble(-1, 1);
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(DTypes.floatToBf16(v));
                case F16 -> b.putShort(DTypes.floatToF16(v));
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        return new WeightMatrix("w", rows, cols, dtype, b.flip());
    }

    static float[] activations(int tokens, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-2, 2);
        }
        return x;
    }

    /** y = W·x for all rows and tokens through the vector path, as the backend calls it. */
    static float[] vectorMul(WeightMatrix w, float[] x, int tokens) {
        float[] y = new float[tokens * w.rows()];
        new CpuMatrix(w).mul(x, tokens, y, w.rows(), 0, 0, w.rows(), false, new CpuMatrix.Scratch());
        return y;
    }

    /**
     * Two float dot products of n terms in different orders each lie within n·2^-24·Σ|w·x| of the exact value,
     * so they differ by at most n·2^-23·Σ|w·x|; a dropped or doubled term is far outside that.
     */
    static void assertAgreesWithScalar(WeightMatrix w, float[] x, int tokens, float[] expected, float[] actual,
                                       String what) {
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < w.rows(); r++) {
                double absSum = 0;
                for (int c = 0; c < w.cols(); c++) {
                    absSum += Math.abs((double) w.get(r, c) * x[t * w.cols() + c]);
                }
                double bound = w.cols() * 0x1p-23 * absSum;
                int i = t * w.rows() + r;
                assertTrue(Math.abs((double) expected[i] - actual[i]) <= bound, what + ": token " + t + " row " + r
                        + ": scalar " + expected[i] + " vector " + actual[i] + " (bound " + bound + ")");
            }
        }
    }

    static Stream<Arguments> sizes() {
        Stream.Builder<Arguments> s = Stream.builder();
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int cols : new int[] {37, 100, 3, 64}) {
                s.add(Arguments.of(dtype, 13, cols));
            }
            s.add(Arguments.of(dtype, 8, 2 * L + 1));
        }
        return s.build();
    }

    @ParameterizedTest(name = "{0} [{1} x {2}]")
    @MethodSource("sizes")
    void vector_matmul_matches_scalar_matmul_for_1_to_9_tokens(DType dtype, int rows, int cols) {
        WeightMatrix w = matrix(dtype, rows, cols, 31L * cols + rows);
        for (int tokens = 1; tokens <= 9; tokens++) {
            float[] x = activations(tokens, cols, 1000 + tokens);
            float[] expected = ScalarKernels.matmul(w, x, tokens);
            float[] actual = vectorMul(w, x, tokens);
            assertAgreesWithScalar(w, x, tokens, expected, actual, dtype + " " + tokens + " tokens");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void row_range_lands_at_the_output_offset_and_stride_leaving_the_rest_untouched(DType dtype) {
        int rows = 21, cols = 37, tokens = 5, stride = 40, off = 7, r0 = 3, r1 = 19;
        WeightMatrix w = matrix(dtype, rows, cols, 5);
        float[] x = activations(tokens, cols, 6);
        float[] full = vectorMul(w, x, tokens);
        float[] y = new float[tokens * stride];
        Arrays.fill(y, -7f);
        new CpuMatrix(w).mul(x, tokens, y, stride, off, r0, r1, false, new CpuMatrix.Scratch());
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < stride; j++) {
                int r = j - off;
                float expected = r >= r0 && r < r1 ? full[t * rows + r] : -7f;
                assertEquals(expected, y[t * stride + j], dtype + " token " + t + " column " + j);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void accumulate_adds_the_product_to_what_the_output_holds(DType dtype) {
        int rows = 11, cols = 100, tokens = 6;
        WeightMatrix w = matrix(dtype, rows, cols, 8);
        float[] x = activations(tokens, cols, 9);
        float[] product = vectorMul(w, x, tokens);
        float[] y = activations(tokens, rows, 10);
        float[] before = y.clone();
        new CpuMatrix(w).mul(x, tokens, y, rows, 0, 0, rows, true, new CpuMatrix.Scratch());
        for (int i = 0; i < y.length; i++) {
            assertEquals(before[i] + product[i], y[i], "element " + i);
        }
    }

    /**
     * A token's output must not depend on its batch: the same bits alone, or at any position of a batch of 4
     * (all in the four-token path), 5 or 9 (some in the remainder path).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void one_token_gives_identical_bits_alone_and_at_every_position_of_a_batch(DType dtype) {
        for (int cols : new int[] {37, 100}) {
            int rows = 19;
            WeightMatrix w = matrix(dtype, rows, cols, 77 + cols);
            float[] token = activations(1, cols, 3);
            float[] alone = vectorMul(w, token, 1);
            for (int batch : new int[] {4, 5, 9}) {
                for (int pos = 0; pos < batch; pos++) {
                    float[] x = activations(batch, cols, 500 + batch * 10 + pos);
                    System.arraycopy(token, 0, x, pos * cols, cols);
                    float[] y = vectorMul(w, x, batch);
                    for (int r = 0; r < rows; r++) {
                        assertEquals(Float.floatToRawIntBits(alone[r]), Float.floatToRawIntBits(y[pos * rows + r]),
                                dtype + " cols " + cols + " row " + r + ": alone " + alone[r] + ", at position "
                                        + pos + " of " + batch + ": " + y[pos * rows + r]);
                    }
                }
            }
        }
    }

    @Test
    void bf16_widening_equals_the_scalar_conversion_for_all_65536_patterns() {
        ByteBuffer b = ByteBuffer.allocateDirect(2 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 65536; i++) {
            b.putShort((short) i);
        }
        b.flip();
        float[] out = new float[65536];
        VectorKernels.bf16ToFloat(b, 0, out, 65536);
        for (int i = 0; i < 65536; i++) {
            assertSameFloat(DTypes.bf16ToFloat((short) i), out[i], "pattern " + Integer.toHexString(i));
        }
        // an unaligned start and a length leaving a scalar tail
        int from = 3, n = 5 * L + 3;
        float[] part = new float[n];
        VectorKernels.bf16ToFloat(b, from, part, n);
        for (int i = 0; i < n; i++) {
            assertSameFloat(DTypes.bf16ToFloat((short) (from + i)), part[i], "element " + i + " from " + from);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void in_register_half_widening_equals_the_scalar_conversion_for_all_65536_patterns(DType dtype) {
        boolean bf16 = dtype == DType.BF16;
        ByteBuffer b = ByteBuffer.allocateDirect(2 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 65536; i++) {
            b.putShort((short) i);
        }
        b.flip();
        float[] out = new float[65536];
        VectorKernels.halfToFloat(b, bf16, 0, out, 65536);
        for (int i = 0; i < 65536; i++) {
            float expected = bf16 ? DTypes.bf16ToFloat((short) i) : DTypes.f16ToFloat((short) i);
            assertSameFloat(expected, out[i], dtype + " pattern " + Integer.toHexString(i));
        }
    }

    /** The matrix widened to float32 once, in the layout {@link VectorKernels#mulF32} reads. */
    static ByteBuffer widened(WeightMatrix w) {
        ByteBuffer f = ByteBuffer.allocateDirect(w.rows() * w.cols() * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < w.rows(); r++) {
            for (int c = 0; c < w.cols(); c++) {
                f.putFloat(w.get(r, c));
            }
        }
        return f.flip();
    }

    /**
     * Reading bfloat16 weights in place must be arithmetic-for-arithmetic the float32 kernel over the widened
     * matrix: the same bits for every row range, token count (all block paths) and column count (scalar tails).
     */
    @ParameterizedTest(name = "{0} [{1} x {2}]")
    @MethodSource("sizes")
    void bf16_kernel_gives_the_float32_kernels_bits_on_the_widened_matrix(DType dtype, int rows, int cols) {
        if (dtype != DType.BF16) {
            return;
        }
        WeightMatrix w = matrix(dtype, rows, cols, 7L * cols + rows);
        ByteBuffer f = widened(w);
        float[] lanes = new CpuMatrix.Scratch().lanes;
        for (int tokens = 1; tokens <= 9; tokens++) {
            float[] x = activations(tokens, cols, 300 + tokens);
            for (int[] range : new int[][] {{0, rows}, {1, rows - 2}, {rows - 1, rows}}) {
                float[] expected = new float[tokens * rows];
                float[] actual = new float[tokens * rows];
                VectorKernels.mulF32(f, cols, x, tokens, expected, rows, 0, range[0], range[1], false, lanes);
                VectorKernels.mulBF16(w.data(), cols, x, tokens, actual, rows, 0, range[0], range[1], false,
                        lanes);
                assertBitsEqual(expected, actual, dtype + " " + tokens + " tokens rows " + Arrays.toString(range));
            }
        }
    }

    /**
     * The same comparison after enough repetitions that C2 compiles the kernels (a vector lane-sum once went
     * wrong only in compiled code): the compiled bfloat16 kernel still matches the float32 one bit for bit, and
     * both stay within float rounding of the scalar product.
     */
    @Test
    void bf16_kernel_stays_exact_once_compiled() {
        DType dtype = DType.BF16;
        int rows = 9, cols = 4 * L + 3, tokens = 5;
        WeightMatrix w = matrix(dtype, rows, cols, 99);
        ByteBuffer f = widened(w);
        float[] x = activations(tokens, cols, 98);
        float[] lanes = new CpuMatrix.Scratch().lanes;
        float[] expected = new float[tokens * rows];
        float[] actual = new float[tokens * rows];
        for (int rep = 0; rep < 20_000; rep++) {
            VectorKernels.mulF32(f, cols, x, tokens, expected, rows, 0, 0, rows, false, lanes);
            VectorKernels.mulBF16(w.data(), cols, x, tokens, actual, rows, 0, 0, rows, false, lanes);
            if (rep % 5000 == 4999) {
                assertBitsEqual(expected, actual, dtype + " repetition " + rep);
            }
        }
        assertAgreesWithScalar(w, x, tokens, ScalarKernels.matmul(w, x, tokens), actual, dtype + " compiled");
    }

    /**
     * Large batches take the widen-a-tile path, small ones the in-register one: a token's bits must not change
     * when its batch crosses {@link CpuMatrix#WIDEN_FROM_TOKENS}, and both stay within rounding of the scalar.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void half_weights_give_one_token_the_same_bits_below_and_above_the_widening_batch(DType dtype) {
        int rows = 13, cols = 2 * L + 5, batch = CpuMatrix.WIDEN_FROM_TOKENS + 3;
        WeightMatrix w = matrix(dtype, rows, cols, 4242);
        float[] x = activations(batch, cols, 4243);
        float[] all = vectorMul(w, x, batch);
        assertAgreesWithScalar(w, x, batch, ScalarKernels.matmul(w, x, batch), all, dtype + " batch " + batch);
        for (int pos : new int[] {0, 5, batch - 1}) {
            float[] alone = vectorMul(w, Arrays.copyOfRange(x, pos * cols, (pos + 1) * cols), 1);
            assertBitsEqual(alone, Arrays.copyOfRange(all, pos * rows, (pos + 1) * rows),
                    dtype + " token " + pos + " alone vs in a batch of " + batch);
        }
    }

    /** Every output of the float32 kernel, checked bit for bit against {@link ScalarKernels#laneOrderDot}. */
    static void assertLaneOrderExact(float[] w, int rows, int cols, float[] x, int tokens, float[] y, String what) {
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                float expected = ScalarKernels.laneOrderDot(w, r * cols, x, t * cols, cols, L);
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(y[t * rows + r]),
                        what + ": token " + t + " row " + r + ": twin " + expected + " kernel " + y[t * rows + r]);
            }
        }
    }

    /**
     * The kernel's order is a specification, not an accident: lane-wise FMAs in column order, the in-order lane
     * sum, the scalar tail. Every block path (4 rows × 4 tokens, 4 rows × 1 token, single rows) must give
     * exactly the bits of the scalar twin, which also makes them equal to one another.
     */
    @Test
    void float32_kernel_gives_the_lane_order_twins_bits_in_every_block_path() {
        for (int cols : new int[] {3, 37, 100, 2 * L + 1, 4 * L}) {
            int rows = 13;
            float[] w = activations(rows, cols, 60 + cols);
            ByteBuffer b = VectorKernels.toBuffer(w);
            for (int tokens = 1; tokens <= 9; tokens++) {
                float[] x = activations(tokens, cols, 61 + tokens);
                float[] y = new float[tokens * rows];
                VectorKernels.mulF32(b, cols, x, tokens, y, rows, 0, 0, rows, false, new CpuMatrix.Scratch().lanes);
                assertLaneOrderExact(w, rows, cols, x, tokens, y, cols + " columns, " + tokens + " tokens");
            }
            float[] x = activations(1, cols, 62);
            float expected = ScalarKernels.laneOrderDot(w, 0, x, 0, cols, L);
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(
                    VectorKernels.dot(w, 0, x, 0, cols, new CpuMatrix.Scratch().lanes)), "dot over " + cols);
        }
    }

    /**
     * The same once C2 has compiled the kernel (a gather-based lane sum once went wrong only in compiled code on
     * JDK 17.0.15; the plain loop must not).
     */
    @Test
    void float32_kernel_stays_lane_order_exact_once_compiled() {
        int rows = 9, cols = 4 * L + 3, tokens = 6;
        float[] w = activations(rows, cols, 70);
        ByteBuffer b = VectorKernels.toBuffer(w);
        float[] x = activations(tokens, cols, 71);
        float[] lanes = new CpuMatrix.Scratch().lanes;
        float[] y = new float[tokens * rows];
        float sink = 0;
        for (int rep = 0; rep < 20_000; rep++) {
            VectorKernels.mulF32(b, cols, x, tokens, y, rows, 0, 0, rows, false, lanes);
            sink += VectorKernels.dot(w, 0, x, 0, cols, lanes);
            if (rep % 5000 == 4999) {
                assertLaneOrderExact(w, rows, cols, x, tokens, y, "repetition " + rep);
            }
        }
        assertEquals(20_000 * ScalarKernels.laneOrderDot(w, 0, x, 0, cols, L), sink,
                Math.abs(sink) * 1e-3, "compiled dot");
    }

    /**
     * The 4 rows x 3 tokens blocks (with 4 x 2 for two tokens left over) that 8-lane machines take give every
     * output exactly the lane-order twin's bits, so also the 4x4 blocks' bits: a batch on an AVX2 machine and one
     * on an AVX-512 machine differ only through the vector width, never through the block shape.
     */
    @Test
    void float32_three_token_blocks_give_the_lane_order_twins_bits_and_the_four_token_blocks_bits() {
        for (int cols : new int[] {3, 37, 100, 2 * L + 1, 4 * L}) {
            int rows = 13;
            float[] w = activations(rows, cols, 160 + cols);
            ByteBuffer b = VectorKernels.toBuffer(w);
            for (int tokens = 1; tokens <= 9; tokens++) {
                float[] x = activations(tokens, cols, 161 + tokens);
                float[] three = new float[tokens * rows];
                float[] four = new float[tokens * rows];
                float[] lanes = new CpuMatrix.Scratch().lanes;
                VectorKernels.mulF32ThreeTokenBlocks(b, cols, x, tokens, three, rows, 0, 0, rows, false, lanes);
                VectorKernels.mulF32(b, cols, x, tokens, four, rows, 0, 0, rows, false, lanes);
                assertLaneOrderExact(w, rows, cols, x, tokens, three, cols + " columns, " + tokens + " tokens, 4x3");
                assertBitsEqual(four, three, cols + " columns, " + tokens + " tokens: 4x3 blocks vs default blocks");
            }
        }
    }

    /** The same once C2 has compiled the 4x3 and 4x2 blocks (8 tokens: 3 + 3 + 2), accumulating into the output. */
    @Test
    void float32_three_token_blocks_stay_lane_order_exact_once_compiled() {
        int rows = 9, cols = 4 * L + 3, tokens = 8;
        float[] w = activations(rows, cols, 170);
        ByteBuffer b = VectorKernels.toBuffer(w);
        float[] x = activations(tokens, cols, 171);
        float[] lanes = new CpuMatrix.Scratch().lanes;
        float[] y = new float[tokens * rows];
        for (int rep = 0; rep < 12_000; rep++) {
            VectorKernels.mulF32ThreeTokenBlocks(b, cols, x, tokens, y, rows, 0, 0, rows, false, lanes);
            if (rep % 4000 == 3999) {
                assertLaneOrderExact(w, rows, cols, x, tokens, y, "repetition " + rep);
            }
        }
        float[] before = y.clone();
        VectorKernels.mulF32ThreeTokenBlocks(b, cols, x, tokens, y, rows, 0, 0, rows, true, lanes);
        for (int i = 0; i < y.length; i++) {
            assertEquals(before[i] + before[i], y[i], "accumulated element " + i);
        }
    }

    /**
     * The bfloat16 kernel in every block path (4x4, 4x1, single rows, and the widened tile from 16 tokens on)
     * gives exactly the lane-order twin's bits over the widened matrix.
     */
    @Test
    void bf16_kernel_gives_the_lane_order_twins_bits_in_every_block_path() {
        int rows = 11;
        int cols = 3 * L + 5;
        WeightMatrix w = matrix(DType.BF16, rows, cols, 80);
        float[] widened = new float[rows * cols];
        for (int i = 0; i < widened.length; i++) {
            widened[i] = w.get(i / cols, i % cols);
        }
        for (int tokens : new int[] {1, 3, 4, 7, 16, 19}) {
            float[] x = activations(tokens, cols, 81 + tokens);
            assertLaneOrderExact(widened, rows, cols, x, tokens, vectorMul(w, x, tokens), "bf16, " + tokens + " tokens");
        }
    }

    static void assertBitsEqual(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    what + ": element " + i + ": " + expected[i] + " vs " + actual[i]);
        }
    }

    static void assertSameFloat(float expected, float actual, String what) {
        if (Float.isNaN(expected)) {
            assertTrue(Float.isNaN(actual), what + ": expected NaN, got " + actual);
        } else {
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                    what + ": expected " + expected + ", got " + actual);
        }
    }
}
