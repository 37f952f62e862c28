package dev.quiver.gpu.backend.cpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU backend's hot loops on the Vector API. {@link ScalarKernels} holds the readable twin of each, and a
 * differential test keeps them in agreement.
 *
 * <p>NOTE: results must not depend on the batch nor on the JIT tier (a request replayed on another node must
 * continue identically). So every output element is one dot product accumulated lane-wise with exact FMAs
 * in a fixed order, and the lanes are summed by our own sequential loop rather than {@code reduceLanes}, whose
 * order the Vector API leaves unspecified (the interpreter and C2 may differ). Tokens are processed four at a
 * time to reuse each loaded weight vector, which changes nothing in any one token's arithmetic.
 */
public final class VectorKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Shorts of half-precision weights per float vector of L lanes. */
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());

    private VectorKernels() {
    }

    public static int lanes() {
        return L;
    }

    static float sumLanes(FloatVector v, float[] lanes) {
        v.intoArray(lanes, 0);
        float s = 0f;
        for (int i = 0; i < L; i++) {
            s += lanes[i];
        }
        return s;
    }

    /**
     * y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T), W
     * row-major float32 in a little-endian buffer.
     */
    static void mulF32(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                       boolean accumulate, float[] lanes) {
        int upper = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            int rowByte = r * cols * 4; // matrices over 2 GiB are refused at load
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                for (int i = 0; i < upper; i += L) {
                    FloatVector wv = FloatVector.fromByteBuffer(F, w, rowByte + i * 4, ByteOrder.LITTLE_ENDIAN);
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + i).fma(wv, a1);
                    a2 = FloatVector.fromArray(F, x, x2 + i).fma(wv, a2);
                    a3 = FloatVector.fromArray(F, x, x3 + i).fma(wv, a3);
                }
                store(y, (t) * yStride + yOff + r, finishF32(a0, w, rowByte, x, x0, upper, cols, lanes), accumulate);
                store(y, (t + 1) * yStride + yOff + r, finishF32(a1, w, rowByte, x, x1, upper, cols, lanes), accumulate);
                store(y, (t + 2) * yStride + yOff + r, finishF32(a2, w, rowByte, x, x2, upper, cols, lanes), accumulate);
                store(y, (t + 3) * yStride + yOff + r, finishF32(a3, w, rowByte, x, x3, upper, cols, lanes), accumulate);
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    FloatVector wv = FloatVector.fromByteBuffer(F, w, rowByte + i * 4, ByteOrder.LITTLE_ENDIAN);
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(wv, a0);
                }
                store(y, t * yStride + yOff + r, finishF32(a0, w, rowByte, x, x0, upper, cols, lanes), accumulate);
            }
        }
    }

    private static float finishF32(FloatVector acc, ByteBuffer w, int rowByte, float[] x, int x0, int upper, int cols,
                                   float[] lanes) {
        float s = sumLanes(acc, lanes);
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], w.getFloat(rowByte + i * 4), s);
        }
        return s;
    }

    /** As {@link #mulF32} for a float array W starting at wOff ([rows, cols] row-major). */
    static void mulArray(float[] w, int wOff, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0,
                         int r1, boolean accumulate, float[] lanes) {
        int upper = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            int row = wOff + r * cols;
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                for (int i = 0; i < upper; i += L) {
                    FloatVector wv = FloatVector.fromArray(F, w, row + i);
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + i).fma(wv, a1);
                    a2 = FloatVector.fromArray(F, x, x2 + i).fma(wv, a2);
                    a3 = FloatVector.fromArray(F, x, x3 + i).fma(wv, a3);
                }
                store(y, (t) * yStride + yOff + r, finishArray(a0, w, row, x, x0, upper, cols, lanes), accumulate);
                store(y, (t + 1) * yStride + yOff + r, finishArray(a1, w, row, x, x1, upper, cols, lanes), accumulate);
                store(y, (t + 2) * yStride + yOff + r, finishArray(a2, w, row, x, x2, upper, cols, lanes), accumulate);
                store(y, (t + 3) * yStride + yOff + r, finishArray(a3, w, row, x, x3, upper, cols, lanes), accumulate);
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(FloatVector.fromArray(F, w, row + i), a0);
                }
                store(y, t * yStride + yOff + r, finishArray(a0, w, row, x, x0, upper, cols, lanes), accumulate);
            }
        }
    }

    private static float finishArray(FloatVector acc, float[] w, int row, float[] x, int x0, int upper, int cols,
                                     float[] lanes) {
        float s = sumLanes(acc, lanes);
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], w[row + i], s);
        }
        return s;
    }

    private static void store(float[] y, int idx, float v, boolean accumulate) {
        y[idx] = accumulate ? y[idx] + v : v;
    }

    /** Converts n bfloat16 values at element index {@code from} of a little-endian buffer into dst[0, n). */
    static void bf16ToFloat(ByteBuffer src, int from, float[] dst, int n) {
        int upper = n - n % L;
        int i = 0;
        if (S.length() == L) {
            for (; i < upper; i += L) {
                ShortVector sv = ShortVector.fromByteBuffer(S, src, (from + i) * 2, ByteOrder.LITTLE_ENDIAN);
                IntVector iv = (IntVector) sv.convertShape(VectorOperators.S2I, I, 0);
                iv.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
            }
        }
        for (; i < n; i++) {
            dst[i] = Float.intBitsToFloat((src.getShort((from + i) * 2) & 0xffff) << 16);
        }
    }

    /** out[i] = silu(gate[i]) * up[i] over [from, to). */
    static void siluMul(float[] gate, float[] up, int from, int to) {
        for (int i = from; i < to; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }
}
