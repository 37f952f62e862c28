package dev.quiver.gpu.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Products with {@link Q8Matrix} weights on the Vector API: y[t, r] (+)= W[r, :]·x[t, :] with W the dequantised
 * matrix (quant × block scale, exact in float) and float activations.
 *
 * <p>Every output is one specified chain, whichever path computes it: lane l accumulates x[c]·w[c] with exact
 * FMAs for the columns c ≡ l (mod L) in column order, then the lanes are summed in lane order ((l0 + l1) + l2)...
 * (rows hold a multiple of 32 weights, so there is no scalar tail). {@link ScalarKernels#laneOrderDot} over
 * {@link Q8Matrix#row} is its readable twin, and the tests hold every path to it bit for bit, which makes a
 * token's result independent of its batch and of how a prompt was chunked.
 *
 * <p>Two paths: below {@link #TILE_FROM_TOKENS} tokens (decode), 4 rows at a time, each weight vector is
 * dequantised in registers (8 int8 lanes widened to float, times the block's scale) right before its FMAs, so
 * the weights are read at one byte each; from that many tokens on, 4 rows at a time are dequantised into a small
 * per-thread float tile that the 4-row × 4-token register block then reuses for every token.
 *
 * <p>NOTE: llama.cpp instead quantises the activations to int8 per block and takes int8 dot products
 * (maddubs/VNNI). JDK 17's Vector API has no widening multiply-add on bytes, so that would need two widenings
 * and an int multiply per vector, and its results would depend on activation rounding; measured against the
 * dequantise-in-registers path in docs/BENCHMARKS.md (engine, Q8_0).
 */
final class Q8Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Int8 quants per float vector (L bytes); null when no byte vector of that size exists (then only tiles). */
    private static final VectorSpecies<Byte> B = F.vectorBitSize() / 4 >= 64
            ? ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    private static final int BLOCK = Q8Matrix.BLOCK;
    /** From this many tokens on, rows are dequantised into a tile once and reused for every token. */
    static final int TILE_FROM_TOKENS = 4;

    static {
        if (BLOCK % L != 0) {
            throw new ExceptionInInitializerError("q8_0 kernels need a float vector of at most " + BLOCK
                    + " lanes, this CPU's has " + L);
        }
    }

    private Q8Kernels() {
    }

    /** y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T). */
    static void mul(Q8Matrix w, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                    boolean accumulate, CpuMatrix.Scratch s) {
        if (T < TILE_FROM_TOKENS && B != null) {
            int r = r0;
            for (; r + 4 <= r1; r += 4) {
                rows4InRegisters(w, x, T, y, yStride, yOff, r, accumulate, s.lanes);
            }
            if (r < r1) {
                tiled(w, x, T, y, yStride, yOff, r, r1, accumulate, s);
            }
        } else {
            tiled(w, x, T, y, yStride, yOff, r0, r1, accumulate, s);
        }
    }

    /** Rows r..r+3, every token one at a time, weights dequantised in registers. */
    private static void rows4InRegisters(Q8Matrix w, float[] x, int T, float[] y, int yStride, int yOff, int r,
                                         boolean accumulate, float[] scratch) {
        int cols = w.cols();
        int nb = cols / BLOCK;
        byte[] q = w.quants();
        float[] d = w.scales();
        int q0 = r * cols, q1 = q0 + cols, q2 = q1 + cols, q3 = q2 + cols;
        int d0 = r * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int t = 0; t < T; t++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int x0 = t * cols;
            for (int b = 0; b < nb; b++) {
                FloatVector s0 = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector s1 = FloatVector.broadcast(F, d[d1 + b]);
                FloatVector s2 = FloatVector.broadcast(F, d[d2 + b]);
                FloatVector s3 = FloatVector.broadcast(F, d[d3 + b]);
                int c0 = b * BLOCK;
                for (int i = c0; i < c0 + BLOCK; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                    a0 = v.fma(dequant(q, q0 + i, s0), a0);
                    a1 = v.fma(dequant(q, q1 + i, s1), a1);
                    a2 = v.fma(dequant(q, q2 + i, s2), a2);
                    a3 = v.fma(dequant(q, q3 + i, s3), a3);
                }
            }
            a0.intoArray(scratch, 0);
            a1.intoArray(scratch, L);
            a2.intoArray(scratch, 2 * L);
            a3.intoArray(scratch, 3 * L);
            int yo = t * yStride + yOff + r;
            store(y, yo, sumLanes(scratch, 0), accumulate);
            store(y, yo + 1, sumLanes(scratch, L), accumulate);
            store(y, yo + 2, sumLanes(scratch, 2 * L), accumulate);
            store(y, yo + 3, sumLanes(scratch, 3 * L), accumulate);
        }
    }

    /** L quants at index off widened to float and multiplied by the block's scale: the exact weight values. */
    private static FloatVector dequant(byte[] q, int off, FloatVector scale) {
        return ((FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, F, 0)).mul(scale);
    }

    /** Rows [r0, r1) dequantised 4 at a time into the thread's tile, then multiplied as float rows. */
    private static void tiled(Q8Matrix w, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                              boolean accumulate, CpuMatrix.Scratch s) {
        int cols = w.cols();
        float[] tile = s.dequantTile(4 * cols);
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            dequantRows(w, r, 4, tile);
            int t = T >= 4 ? tileRows4Tokens4(tile, cols, x, T, y, yStride, yOff + r, accumulate, s.lanes) : 0;
            if (t < T) {
                tileRows4Tokens1(tile, cols, x, t, T, y, yStride, yOff + r, accumulate, s.lanes);
            }
        }
        for (; r < r1; r++) {
            dequantRows(w, r, 1, tile);
            tileRow(tile, cols, x, T, y, yStride, yOff + r, accumulate, s.lanes);
        }
    }

    /** Rows r..r+n-1 dequantised into tile[0, n*cols). */
    static void dequantRows(Q8Matrix w, int r, int n, float[] tile) {
        int cols = w.cols();
        int nb = cols / BLOCK;
        byte[] q = w.quants();
        float[] d = w.scales();
        for (int j = 0; j < n; j++) {
            int qo = (r + j) * cols;
            int to = j * cols;
            for (int b = 0; b < nb; b++) {
                float sc = d[(r + j) * nb + b];
                int c0 = b * BLOCK;
                if (B != null) {
                    FloatVector sv = FloatVector.broadcast(F, sc);
                    for (int i = c0; i < c0 + BLOCK; i += L) {
                        dequant(q, qo + i, sv).intoArray(tile, to + i);
                    }
                } else {
                    for (int i = c0; i < c0 + BLOCK; i++) {
                        tile[to + i] = q[qo + i] * sc;
                    }
                }
            }
        }
    }

    /** Tile rows 0..3 (output rows yOff..yOff+3), tokens in blocks of 4 while 4 remain; returns the first left. */
    private static int tileRows4Tokens4(float[] w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                                        boolean accumulate, float[] scratch) {
        int t = 0;
        int rb0 = 0, rb1 = cols, rb2 = 2 * cols, rb3 = 3 * cols;
        for (; t + 4 <= T; t += 4) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
            for (int i = 0; i < cols; i += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                FloatVector w0 = FloatVector.fromArray(F, w, rb0 + i);
                a00 = v0.fma(w0, a00);
                a01 = v1.fma(w0, a01);
                a02 = v2.fma(w0, a02);
                a03 = v3.fma(w0, a03);
                FloatVector w1 = FloatVector.fromArray(F, w, rb1 + i);
                a10 = v0.fma(w1, a10);
                a11 = v1.fma(w1, a11);
                a12 = v2.fma(w1, a12);
                a13 = v3.fma(w1, a13);
                FloatVector w2 = FloatVector.fromArray(F, w, rb2 + i);
                a20 = v0.fma(w2, a20);
                a21 = v1.fma(w2, a21);
                a22 = v2.fma(w2, a22);
                a23 = v3.fma(w2, a23);
                FloatVector w3 = FloatVector.fromArray(F, w, rb3 + i);
                a30 = v0.fma(w3, a30);
                a31 = v1.fma(w3, a31);
                a32 = v2.fma(w3, a32);
                a33 = v3.fma(w3, a33);
            }
            // accumulator (row j, token k) at slot j*4 + k
            a00.intoArray(scratch, 0);
            a01.intoArray(scratch, L);
            a02.intoArray(scratch, 2 * L);
            a03.intoArray(scratch, 3 * L);
            a10.intoArray(scratch, 4 * L);
            a11.intoArray(scratch, 5 * L);
            a12.intoArray(scratch, 6 * L);
            a13.intoArray(scratch, 7 * L);
            a20.intoArray(scratch, 8 * L);
            a21.intoArray(scratch, 9 * L);
            a22.intoArray(scratch, 10 * L);
            a23.intoArray(scratch, 11 * L);
            a30.intoArray(scratch, 12 * L);
            a31.intoArray(scratch, 13 * L);
            a32.intoArray(scratch, 14 * L);
            a33.intoArray(scratch, 15 * L);
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 4; k++) {
                    store(y, (t + k) * yStride + yOff + j, sumLanes(scratch, (j * 4 + k) * L), accumulate);
                }
            }
        }
        return t;
    }

    /** Tile rows 0..3 (output rows yOff..yOff+3), tokens t0..T-1 one at a time. */
    private static void tileRows4Tokens1(float[] w, int cols, float[] x, int t0, int T, float[] y, int yStride,
                                         int yOff, boolean accumulate, float[] scratch) {
        int rb0 = 0, rb1 = cols, rb2 = 2 * cols, rb3 = 3 * cols;
        for (int t = t0; t < T; t++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int x0 = t * cols;
            for (int i = 0; i < cols; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                a0 = v.fma(FloatVector.fromArray(F, w, rb0 + i), a0);
                a1 = v.fma(FloatVector.fromArray(F, w, rb1 + i), a1);
                a2 = v.fma(FloatVector.fromArray(F, w, rb2 + i), a2);
                a3 = v.fma(FloatVector.fromArray(F, w, rb3 + i), a3);
            }
            a0.intoArray(scratch, 0);
            a1.intoArray(scratch, L);
            a2.intoArray(scratch, 2 * L);
            a3.intoArray(scratch, 3 * L);
            int yo = t * yStride + yOff;
            store(y, yo, sumLanes(scratch, 0), accumulate);
            store(y, yo + 1, sumLanes(scratch, L), accumulate);
            store(y, yo + 2, sumLanes(scratch, 2 * L), accumulate);
            store(y, yo + 3, sumLanes(scratch, 3 * L), accumulate);
        }
    }

    /** Tile row 0 (output row yOff), every token. */
    private static void tileRow(float[] w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                                boolean accumulate, float[] scratch) {
        for (int t = 0; t < T; t++) {
            FloatVector a0 = FloatVector.zero(F);
            int x0 = t * cols;
            for (int i = 0; i < cols; i += L) {
                a0 = FloatVector.fromArray(F, x, x0 + i).fma(FloatVector.fromArray(F, w, i), a0);
            }
            a0.intoArray(scratch, 0);
            store(y, t * yStride + yOff, sumLanes(scratch, 0), accumulate);
        }
    }

    /**
     * The lanes of the accumulator stored at scratch[base, base + L), summed in lane order with a plain loop
     * (the Vector API leaves {@code reduceLanes}' order unspecified; see VectorKernels).
     */
    private static float sumLanes(float[] scratch, int base) {
        float s = scratch[base];
        for (int l = 1; l < L; l++) {
            s += scratch[base + l];
        }
        return s;
    }

    private static void store(float[] y, int idx, float v, boolean accumulate) {
        y[idx] = accumulate ? y[idx] + v : v;
    }
}
