package dev.quiver.gpu.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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
 * <p>Two paths: below {@link #TILE_FROM_TOKENS} tokens (decode), one row at a time, each block's 32 int8 quants
 * are loaded as one byte vector and widened to floats a quarter (L lanes) at a time, times the block's scale,
 * right before their FMAs, so the weights are read at one byte each; from that many tokens on, 4 rows at a time
 * are dequantised into a small per-thread float tile that a 4-row × 4-token register block reuses for every token.
 *
 * <p>NOTE: llama.cpp instead quantises the activations to int8 per block and takes integer dot products. On JDK 17
 * that was measured and not adopted (docs/BENCHMARKS.md, Q8_0, "int8 activations"; gpu-actor/src/probe/q8i). The
 * Vector API has no widening multiply-add (x86's vpmaddubsw, vpmaddwd, VNNI), so an int8 block costs a short
 * multiply, two short-to-int conversions, an add, an int-to-float conversion and a scaled FMA. At 1-2 tokens that
 * ran at 1.0x this kernel with 16 lanes (1.3x with 8). From 4 tokens on, the same chain from a tile needs 3 vector
 * operations per block and output where this kernel needs 2 FMAs, so at most 0.67x; 0.1-0.55x was measured. One
 * chain per output means one kernel for every batch size, so the int8 path would lose overall. The earlier 3-4x
 * figure was against this kernel's 256-bit version beside 512-bit code in one JVM (the boxing noted below on F).
 */
final class Q8Kernels {
    /**
     * The same species as {@link VectorKernels} (the CPU's preferred width): one float species per process.
     * NOTE: this kernel used 256-bit vectors on AVX-512 machines while the rest of the backend used 512; with both
     * species running through the JDK's shared vector code, C2's type profiles there saw two classes, its vector
     * intrinsics failed, and the kernels ran on boxed vectors (allocation samples: Float256Vector in
     * lanewiseTemplate): Q8_0 decode measured 6-43 tokens/s from run to run where one species gives 130 (bench
     * forward, small model, 2 threads). The chains below are specified for this L, whichever it is.
     */
    static final VectorSpecies<Float> F = VectorKernels.F;
    static final int L = F.length();
    private static final int BLOCK = Q8Matrix.BLOCK;
    /**
     * Quants in one byte vector of the float vector's size (4L bytes: one block with 8 float lanes, two with 16),
     * widened to floats a quarter (L lanes) at a time; null with 4 float lanes (then products take the tile
     * path, dequantising scalar-wise).
     */
    // NOTE: loading L bytes (a quarter-size ByteVector) per float vector and converting it measured 4-5x slower on
    // JDK 17 than one full-size load converted part by part: those conversions are not intrinsified.
    private static final VectorSpecies<Byte> B = (4 * L) % BLOCK == 0
            ? ByteVector.SPECIES_64.withShape(F.vectorShape()) : null;
    /** Blocks per byte vector (1 with 8 lanes, 2 with 16). */
    private static final int G = 4 * L / BLOCK;
    /** Block (0 or 1 within the byte vector) of quarters 2 and 3: constants, so the choice of scale folds away. */
    private static final int P2 = 2 * L / BLOCK, P3 = 3 * L / BLOCK;
    /** From this many tokens on, rows are dequantised into a tile once and reused for every token. */
    static final int TILE_FROM_TOKENS = 4;

    private Q8Kernels() {
    }

    /** y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T). */
    static void mul(Q8Matrix w, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                    boolean accumulate, CpuMatrix.Scratch s) {
        if (T < TILE_FROM_TOKENS && B != null) {
            for (int r = r0; r < r1; r++) {
                rowInRegisters(w, x, T, y, yStride, yOff, r, accumulate, s.lanes);
            }
        } else {
            tiled(w, x, T, y, yStride, yOff, r0, r1, accumulate, s);
        }
    }

    /** Row r, every token one at a time, weights dequantised in registers. */
    // NOTE: one row per call: a 4-row version (16 conversions per block) ran 5-10x slower, as C2 stopped inlining
    // the conversions in so large a loop body and boxed the vectors (as VectorKernels notes for its kernels).
    private static void rowInRegisters(Q8Matrix w, float[] x, int T, float[] y, int yStride, int yOff, int r,
                                       boolean accumulate, float[] scratch) {
        int cols = w.cols();
        int nb = cols / BLOCK;
        int grouped = nb - nb % G;
        byte[] q = w.quants();
        float[] d = w.scales();
        int q0 = r * cols;
        int d0 = r * nb;
        for (int t = 0; t < T; t++) {
            FloatVector a = FloatVector.zero(F);
            int x0 = t * cols;
            for (int b = 0; b < grouped; b += G) {
                // the scale of the vector's first block and (16 lanes) of its second
                FloatVector s = FloatVector.broadcast(F, d[d0 + b]);
                FloatVector u = G == 1 ? s : FloatVector.broadcast(F, d[d0 + b + G - 1]);
                int c0 = b * BLOCK;
                ByteVector v = ByteVector.fromArray(B, q, q0 + c0);
                // NOTE: the part index must be a constant for C2 to intrinsify the conversion
                a = FloatVector.fromArray(F, x, x0 + c0).fma(dequant(v, 0, s), a);
                a = FloatVector.fromArray(F, x, x0 + c0 + L).fma(dequant(v, 1, s), a);
                a = FloatVector.fromArray(F, x, x0 + c0 + 2 * L).fma(dequant(v, 2, P2 == 0 ? s : u), a);
                a = FloatVector.fromArray(F, x, x0 + c0 + 3 * L).fma(dequant(v, 3, P3 == 0 ? s : u), a);
            }
            if (grouped < nb) {
                // a last block that does not fill a byte vector (16 lanes, odd block count): its weights from the
                // scalar dequantisation, continuing the same chain in column order
                float[] tmp = new float[BLOCK];
                dequantRows(w, r, 1, grouped, nb, tmp, BLOCK);
                for (int i = 0; i < BLOCK; i += L) {
                    a = FloatVector.fromArray(F, x, x0 + grouped * BLOCK + i).fma(FloatVector.fromArray(F, tmp, i), a);
                }
            }
            a.intoArray(scratch, 0);
            store(y, t * yStride + yOff + r, sumLanes(scratch, 0), accumulate);
        }
    }

    /** Quants [p*L, (p+1)*L) of a block widened to float and multiplied by its scale: the exact weight values. */
    private static FloatVector dequant(ByteVector block, int p, FloatVector scale) {
        return ((FloatVector) block.convertShape(VectorOperators.B2F, F, p)).mul(scale);
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
        dequantRows(w, r, n, 0, w.cols() / BLOCK, tile, w.cols());
    }

    /**
     * Blocks [b0, b1) of rows r..r+n-1 dequantised into tile, row j's first block at j*stride: byte vectors where
     * whole ones fit, quant × scale one by one for the rest.
     */
    private static void dequantRows(Q8Matrix w, int r, int n, int b0, int b1, float[] tile, int stride) {
        int cols = w.cols();
        int nb = cols / BLOCK;
        byte[] q = w.quants();
        float[] d = w.scales();
        for (int j = 0; j < n; j++) {
            int qo = (r + j) * cols;
            int ds = (r + j) * nb;
            int to = j * stride - b0 * BLOCK;
            int b = b0;
            if (B != null) {
                for (; b + G <= b1; b += G) {
                    FloatVector s = FloatVector.broadcast(F, d[ds + b]);
                    FloatVector u = G == 1 ? s : FloatVector.broadcast(F, d[ds + b + G - 1]);
                    int c0 = b * BLOCK;
                    ByteVector v = ByteVector.fromArray(B, q, qo + c0);
                    dequant(v, 0, s).intoArray(tile, to + c0);
                    dequant(v, 1, s).intoArray(tile, to + c0 + L);
                    dequant(v, 2, P2 == 0 ? s : u).intoArray(tile, to + c0 + 2 * L);
                    dequant(v, 3, P3 == 0 ? s : u).intoArray(tile, to + c0 + 3 * L);
                }
            }
            for (; b < b1; b++) {
                float sc = d[ds + b];
                for (int i = b * BLOCK; i < (b + 1) * BLOCK; i++) {
                    tile[to + i] = q[qo + i] * sc;
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
