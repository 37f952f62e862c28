package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.model.WeightMatrix;

/**
 * Readable scalar twins of {@link VectorKernels}: the plain loops the fast versions must agree with (within
 * float rounding: the vector kernels sum in a different order). Used by the differential tests and nowhere on
 * the serving path.
 */
public final class ScalarKernels {
    private ScalarKernels() {
    }

    /** y[t, r] = sum_c W[r, c] * x[t, c]. */
    public static float[] matmul(WeightMatrix w, float[] x, int tokens) {
        float[] y = new float[tokens * w.rows()];
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < w.rows(); r++) {
                float s = 0f;
                for (int c = 0; c < w.cols(); c++) {
                    s += w.get(r, c) * x[t * w.cols() + c];
                }
                y[t * w.rows() + r] = s;
            }
        }
        return y;
    }

    /** y[t, r] = sum_c W[r, c] * x[t, c] for W a float array [rows, cols]. */
    public static float[] matmul(float[] w, int rows, int cols, float[] x, int tokens) {
        float[] y = new float[tokens * rows];
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                float s = 0f;
                for (int c = 0; c < cols; c++) {
                    s += w[r * cols + c] * x[t * cols + c];
                }
                y[t * rows + r] = s;
            }
        }
        return y;
    }

    /**
     * The exact arithmetic of the vector kernels for one output, for a vector of {@code lanes} lanes (a power of
     * two): lane l accumulates w[c]·x[c] for the columns c ≡ l (mod lanes) below the last full vector, with
     * fused multiply-adds in column order; the lanes are then summed in lane order, ((l0 + l1) + l2) + ...;
     * the remaining columns are fused-multiply-added in order.
     */
    public static float laneOrderDot(float[] w, int wOff, float[] x, int xOff, int n, int lanes) {
        int upper = n - n % lanes;
        float[] acc = new float[lanes];
        for (int c = 0; c < upper; c++) {
            acc[c % lanes] = Math.fma(x[xOff + c], w[wOff + c], acc[c % lanes]);
        }
        float s = acc[0];
        for (int l = 1; l < lanes; l++) {
            s += acc[l];
        }
        for (int c = upper; c < n; c++) {
            s = Math.fma(x[xOff + c], w[wOff + c], s);
        }
        return s;
    }

    /**
     * The exact arithmetic of {@link PanelKernels} for one output: one fused multiply-add chain over the columns in
     * order from zero, s = fma(x[c], w[c], s).
     */
    public static float fmaChainDot(float[] w, int wOff, float[] x, int xOff, int n) {
        float s = 0f;
        for (int c = 0; c < n; c++) {
            s = Math.fma(x[xOff + c], w[wOff + c], s);
        }
        return s;
    }
}
