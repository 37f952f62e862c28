package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.WeightMatrix;

/**
 * A projection quantised to llama.cpp's Q8_0 at load: each row cut into blocks of {@link #BLOCK} consecutive
 * weights along the input dimension, each block stored as int8 quants and one scale. For a block x:
 * {@code d = max|x| / 127} (in float), {@code q = roundf(x · (1/d))} (half away from zero; all zeros when d = 0),
 * and the stored scale is d rounded to fp16 — ggml's {@code quantize_row_q8_0_ref} and gguf-py's Q8_0, so the
 * accuracy compares with llama.cpp's. A weight reads back as {@code q · fp16(d)}, which is exact in float (8 bits
 * times 11 bits), so kernels may dequantise in registers or into scratch and get the same bits.
 *
 * <p>NOTE: the scale is kept as the float value of the fp16 (4 bytes per 32 weights, 1.125 bytes per weight
 * against llama.cpp's 1.0625) so the kernels broadcast it without a conversion; the value is the fp16's exactly.
 */
public final class Q8Matrix {
    /** Weights per block (ggml's QK8_0). */
    public static final int BLOCK = 32;

    private final String name;
    private final int rows;
    private final int cols;
    private final byte[] quants;  // [rows, cols] int8
    private final float[] scales; // [rows, cols / BLOCK], each an fp16 value

    private Q8Matrix(String name, int rows, int cols, byte[] quants, float[] scales) {
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.quants = quants;
        this.scales = scales;
    }

    /** Quantises w (F32, BF16 or F16) row by row on one thread. */
    public static Q8Matrix quantize(WeightMatrix w) {
        Q8Matrix m = empty(w);
        m.quantizeRows(w, 0, w.rows(), new float[w.cols()]);
        return m;
    }

    /** Quantises w with the rows split over the pool's threads; the result does not depend on the split. */
    public static Q8Matrix quantize(WeightMatrix w, Parallel pool) {
        Q8Matrix m = empty(w);
        pool.forRange(w.rows(), 16, (s, e, wk) -> m.quantizeRows(w, s, e, new float[w.cols()]));
        return m;
    }

    private static Q8Matrix empty(WeightMatrix w) {
        if (w.cols() % BLOCK != 0) {
            throw new IllegalArgumentException(w.name() + ": rows of " + w.cols() + " weights cannot be quantised to "
                    + "q8_0, which needs a multiple of " + BLOCK + " (blocks of " + BLOCK + " along the input dimension); "
                    + "use quiver.engine.weight-format = native for this model");
        }
        return new Q8Matrix(w.name(), w.rows(), w.cols(), new byte[Math.multiplyExact(w.rows(), w.cols())],
                new float[w.rows() * (w.cols() / BLOCK)]);
    }

    private void quantizeRows(WeightMatrix w, int r0, int r1, float[] row) {
        int nb = cols / BLOCK;
        for (int r = r0; r < r1; r++) {
            w.row(r, row, 0);
            for (int b = 0; b < nb; b++) {
                scales[r * nb + b] = quantizeBlock(row, b * BLOCK, quants, r * cols + b * BLOCK, name, r);
            }
        }
    }

    /**
     * Quantises x[from, from + 32) into q[qOff, qOff + 32) and returns the block's scale as the float value of its
     * fp16. Refuses a non-finite weight, naming the matrix and row.
     */
    static float quantizeBlock(float[] x, int from, byte[] q, int qOff, String name, int row) {
        float amax = 0f;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[from + j];
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException(name + ": row " + row + " holds " + v + ", which q8_0 cannot hold");
            }
            amax = Math.max(amax, Math.abs(v));
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        for (int j = 0; j < BLOCK; j++) {
            q[qOff + j] = (byte) roundHalfAway(x[from + j] * id);
        }
        return DTypes.f16ToFloat(DTypes.floatToF16(d));
    }

    /** C's roundf: to nearest, halves away from zero (|v| <= 127 here, so the double sum is exact). */
    static int roundHalfAway(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -r : r);
    }

    public String name() {
        return name;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Quant of weight (r, c). */
    public byte quant(int r, int c) {
        return quants[r * cols + c];
    }

    /** Scale of the block holding weight (r, c). */
    public float scale(int r, int c) {
        return scales[r * (cols / BLOCK) + c / BLOCK];
    }

    /** Weight (r, c) as the kernels see it: quant × scale, exact in float. */
    public float get(int r, int c) {
        return quant(r, c) * scale(r, c);
    }

    /** Row r dequantised into dst[off, off + cols): the readable twin of the kernels' dequantisation. */
    public void row(int r, float[] dst, int off) {
        for (int c = 0; c < cols; c++) {
            dst[off + c] = get(r, c);
        }
    }

    /** The whole matrix dequantised, [rows, cols] row-major. */
    public float[] dequantize() {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            row(r, out, r * cols);
        }
        return out;
    }

    /** Bytes held: one per quant and four per block scale. */
    public long bytes() {
        return (long) quants.length + 4L * scales.length;
    }
}
