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
}
