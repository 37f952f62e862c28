package dev.quiver.gpu.backend.cpu;

import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.activations;
import static dev.quiver.gpu.backend.cpu.VectorKernelsDifferentialTest.assertBitsEqual;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import java.nio.ShortBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The panel kernel (F32 or BF16 weights in the heap, Q8_0) against its scalar twin {@link ScalarKernels#fmaChainDot}:
 * the exact bits in every block path (6, 2 and 1 tokens; Q8_0 also in registers or dequantised into a tile), for row
 * counts that fill panels, leave one partly filled or fit in one, row ranges that cut panels, and once C2 has compiled
 * it.
 */
class PanelKernelsTest {
    static final int P = PanelKernels.PANEL;
    /** Every Q8_0 block path (4, 2, 1 in registers) and the tile's on both sides of its threshold. */
    static final int[] TOKEN_COUNTS = {1, 2, 3, 4, 5, 6, 7, 8, 9, PanelKernels.TILE_FROM_TOKENS - 1,
            PanelKernels.TILE_FROM_TOKENS, PanelKernels.TILE_FROM_TOKENS + 1, PanelKernels.TILE_FROM_TOKENS + 7};

    static float[] twin(float[] w, int rows, int cols, float[] x, int tokens) {
        float[] y = new float[tokens * rows];
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                y[t * rows + r] = ScalarKernels.fmaChainDot(w, r * cols, x, t * cols, cols);
            }
        }
        return y;
    }

    static float[] mul(float[] packed, int rows, int cols, float[] x, int tokens) {
        float[] y = new float[tokens * rows];
        PanelKernels.mul(packed, rows, cols, x, tokens, y, rows, 0, 0, rows, false, new float[tokens * P]);
        return y;
    }

    @Test
    void every_block_path_gives_the_twins_bits() {
        for (int rows : new int[] {1, 13, P, P + 3, 2 * P + 5}) {
            for (int cols : new int[] {1, 3, 37, 100}) {
                float[] w = activations(rows, cols, 10 + rows * 131 + cols);
                float[] packed = PanelKernels.pack(w, rows, cols);
                assertEquals(PanelKernels.packedSize(rows, cols), packed.length);
                for (int tokens = 1; tokens <= 13; tokens++) {
                    float[] x = activations(tokens, cols, 20 + tokens);
                    assertBitsEqual(twin(w, rows, cols, x, tokens), mul(packed, rows, cols, x, tokens),
                            rows + " rows, " + cols + " columns, " + tokens + " tokens");
                }
            }
        }
    }

    /** A token's outputs do not depend on the batch around it: alone and at every position of 7 and 13. */
    @Test
    void one_token_gives_the_same_bits_alone_and_in_every_position_of_a_batch() {
        int rows = 2 * P + 7, cols = 53;
        float[] w = activations(rows, cols, 30);
        float[] packed = PanelKernels.pack(w, rows, cols);
        float[] token = activations(1, cols, 31);
        float[] alone = mul(packed, rows, cols, token, 1);
        for (int batch : new int[] {7, 13}) {
            for (int pos = 0; pos < batch; pos++) {
                float[] x = activations(batch, cols, 32 + pos);
                System.arraycopy(token, 0, x, pos * cols, cols);
                float[] y = mul(packed, rows, cols, x, batch);
                assertBitsEqual(alone, Arrays.copyOfRange(y, pos * rows, (pos + 1) * rows),
                        "position " + pos + " of " + batch);
            }
        }
    }

    /**
     * Row ranges as threads get them, cutting panels anywhere: each range lands at the output's stride and offset,
     * accumulates onto what is there (y + s, one rounding) and leaves every other element untouched.
     */
    @Test
    void row_ranges_cut_anywhere_accumulate_in_place_and_touch_nothing_else() {
        int rows = 2 * P + 9, cols = 41, tokens = 9, stride = rows + 5, off = 3;
        float[] w = activations(rows, cols, 40);
        float[] packed = PanelKernels.pack(w, rows, cols);
        float[] x = activations(tokens, cols, 41);
        float[] product = twin(w, rows, cols, x, tokens);
        int[][] ranges = {{0, rows}, {0, 1}, {5, P - 3}, {P - 1, P + 1}, {P, 2 * P}, {3, rows}, {rows - 2, rows}};
        for (int[] range : ranges) {
            float[] before = activations(tokens, stride, 42);
            float[] y = before.clone();
            PanelKernels.mul(packed, rows, cols, x, tokens, y, stride, off, range[0], range[1], true,
                    new float[tokens * P]);
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < stride; j++) {
                    int i = t * stride + j;
                    int r = j - off;
                    float want = r >= range[0] && r < range[1] ? before[i] + product[t * rows + r] : before[i];
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(y[i]),
                            "rows [" + range[0] + ", " + range[1] + "), token " + t + ", element " + j);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> PanelKernels.mul(packed, rows, cols, x, tokens,
                new float[tokens * stride], stride, 0, 0, rows + 1, false, new float[tokens * P]));
    }

    /** The same bits after C2 compiled every block shape (the interpreter's first calls are checked above). */
    @Test
    void stays_exact_once_compiled() {
        int rows = P + 11, cols = 67, tokens = 9;
        float[] w = activations(rows, cols, 50);
        float[] packed = PanelKernels.pack(w, rows, cols);
        float[] x = activations(tokens, cols, 51);
        float[] tile = new float[tokens * P];
        repeatUntilCompiled(twin(w, rows, cols, x, tokens), tokens * rows,
                y -> PanelKernels.mul(packed, rows, cols, x, tokens, y, rows, 0, 0, rows, false, tile));
    }

    /** Runs the product 20,000 times into one output (C2 compiles every block on the way), checking it as it goes. */
    static float[] repeatUntilCompiled(float[] expected, int size, java.util.function.Consumer<float[]> product) {
        float[] y = new float[size];
        for (int rep = 0; rep < 20_000; rep++) {
            product.accept(y);
            if (rep % 5000 == 4999) {
                assertBitsEqual(expected, y, "repetition " + rep);
            }
        }
        return y;
    }

    /** Random bfloat16 bits for rows × cols weights (finite, both signs). */
    static short[] bf16Weights(int rows, int cols, long seed) {
        float[] f = activations(rows, cols, seed);
        short[] h = new short[f.length];
        for (int i = 0; i < f.length; i++) {
            h[i] = DTypes.floatToBf16(f[i]);
        }
        return h;
    }

    static float[] widened(short[] h) {
        float[] f = new float[h.length];
        for (int i = 0; i < h.length; i++) {
            f[i] = Float.intBitsToFloat((h[i] & 0xffff) << 16);
        }
        return f;
    }

    /**
     * Bfloat16 panels widen each weight vector in registers: the twin's bits over the widened matrix in every block
     * path and with ranges that cut panels, before and after C2 compiled the blocks.
     */
    @Test
    void bf16_panels_give_the_twins_bits_over_the_widened_matrix() {
        for (int rows : new int[] {1, 13, P + 3, 2 * P + 5}) {
            for (int cols : new int[] {1, 37, 100}) {
                short[] h = bf16Weights(rows, cols, 70 + rows * 7 + cols);
                float[] w = widened(h);
                short[] packed = PanelKernels.packBF16(ShortBuffer.wrap(h), rows, cols);
                for (int tokens = 1; tokens <= 13; tokens += 2) {
                    float[] x = activations(tokens, cols, 71 + tokens);
                    float[] y = new float[tokens * rows];
                    PanelKernels.mulBF16(packed, rows, cols, x, tokens, y, rows, 0, 0, rows, false,
                            new float[tokens * P]);
                    assertBitsEqual(twin(w, rows, cols, x, tokens), y,
                            rows + " rows, " + cols + " columns, " + tokens + " tokens");
                }
            }
        }
        int rows = P + 11, cols = 67, tokens = 9;
        short[] h = bf16Weights(rows, cols, 80);
        short[] packed = PanelKernels.packBF16(ShortBuffer.wrap(h), rows, cols);
        float[] x = activations(tokens, cols, 81);
        float[] tile = new float[tokens * P];
        float[] y = repeatUntilCompiled(twin(widened(h), rows, cols, x, tokens), tokens * rows,
                out -> PanelKernels.mulBF16(packed, rows, cols, x, tokens, out, rows, 0, 0, rows, false, tile));
        float[] part = y.clone();
        PanelKernels.mulBF16(packed, rows, cols, x, tokens, part, rows, 0, 5, P + 2, true, tile);
        assertRowsAddedTwice(y, part, rows, tokens, 5, P + 2);
    }

    /**
     * Q8_0 panels widen and scale each column's quants in registers or into the tile: the twin's bits over the
     * dequantised matrix in every block path (4, 2, 1 tokens in registers, the F32 blocks over the tile), for several
     * blocks per row and rows that leave a panel partly filled, with ranges that cut panels, and once C2 compiled the
     * blocks.
     */
    @Test
    void q8_panels_give_the_twins_bits_over_the_dequantised_matrix() {
        for (int rows : new int[] {1, 13, P + 3, 2 * P + 5}) {
            for (int cols : new int[] {32, 96, 256}) {
                Q8Matrix q = Q8Matrix.quantize(VectorKernelsDifferentialTest.matrix(DType.F32, rows, cols,
                        90 + rows * 3 + cols));
                float[] w = q.dequantize();
                PanelKernels.Q8Panels packed = PanelKernels.packQ8(q);
                for (int tokens : TOKEN_COUNTS) {
                    float[] x = activations(tokens, cols, 91 + tokens);
                    float[] y = new float[tokens * rows];
                    PanelKernels.mulQ8(packed, x, tokens, y, rows, 0, 0, rows, false, new float[tokens * P],
                            new float[P * cols]);
                    assertBitsEqual(twin(w, rows, cols, x, tokens), y,
                            rows + " rows, " + cols + " columns, " + tokens + " tokens");
                }
            }
        }
        int rows = P + 11, cols = 96;
        Q8Matrix q = Q8Matrix.quantize(VectorKernelsDifferentialTest.matrix(DType.F32, rows, cols, 95));
        PanelKernels.Q8Panels packed = PanelKernels.packQ8(q);
        float[] wtile = new float[P * cols];
        for (int tokens : new int[] {PanelKernels.TILE_FROM_TOKENS - 1, PanelKernels.TILE_FROM_TOKENS + 1}) {
            float[] x = activations(tokens, cols, 96);
            float[] tile = new float[tokens * P];
            float[] y = repeatUntilCompiled(twin(q.dequantize(), rows, cols, x, tokens), tokens * rows,
                    out -> PanelKernels.mulQ8(packed, x, tokens, out, rows, 0, 0, rows, false, tile, wtile));
            float[] part = y.clone();
            PanelKernels.mulQ8(packed, x, tokens, part, rows, 0, 3, P + 1, true, tile, wtile);
            assertRowsAddedTwice(y, part, rows, tokens, 3, P + 1);
        }
    }

    /** part is y with rows [from, to) of every token accumulated onto themselves once more (y + y, one rounding). */
    static void assertRowsAddedTwice(float[] y, float[] part, int rows, int tokens, int from, int to) {
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                int i = t * rows + r;
                float want = r >= from && r < to ? y[i] + y[i] : y[i];
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(part[i]), "accumulated, " + i);
            }
        }
    }

    /** The twin is a dot product: within float rounding of the double one (guards the twin itself). */
    @Test
    void the_twin_is_the_product_within_rounding() {
        int rows = 5, cols = 300;
        float[] w = activations(rows, cols, 60);
        float[] x = activations(2, cols, 61);
        float[] y = twin(w, rows, cols, x, 2);
        for (int t = 0; t < 2; t++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0, abs = 0;
                for (int c = 0; c < cols; c++) {
                    exact += (double) w[r * cols + c] * x[t * cols + c];
                    abs += Math.abs((double) w[r * cols + c] * x[t * cols + c]);
                }
                assertTrue(Math.abs(exact - y[t * rows + r]) <= cols * 0x1p-24 * abs, "token " + t + " row " + r);
            }
        }
    }
}
