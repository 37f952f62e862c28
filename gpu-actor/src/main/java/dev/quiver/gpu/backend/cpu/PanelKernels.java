package dev.quiver.gpu.backend.cpu;

import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2I;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The F32 product for weights held in the heap, packed into panels: {@link #PANEL} consecutive output rows stored
 * column by column, so one vector load brings the same column of {@link #L} rows. Each step broadcasts one activation
 * per token and fuse-multiply-adds it into the rows' accumulators (an outer product, as BLAS SGEMM kernels do), up to
 * 6 tokens × 4 vectors at a time. No output needs a horizontal lane sum, and every weight loaded is used for every
 * token in the block.
 *
 * <p>NOTE: the arithmetic of every output is one FMA chain over the columns in order, starting from zero:
 * {@code s = fma(x[t,c], W[r,c], s)} for c = 0, 1, ... (then {@code y + s} when accumulating); {@link
 * ScalarKernels#fmaChainDot} is its twin. Which block computed an output, how many tokens the batch has and which
 * thread ran it change nothing, and the Vector API's fallback (interpreter, C1) applies the same exact FMAs, so
 * results are batch-invariant and the same in every JIT tier. They are not the bits of {@link VectorKernels#mulF32},
 * which sums lanes: weights read in place (mapped, BF16, F16) and weights in the heap agree to rounding only.
 *
 * <p>Measured against the row kernel on a 16-lane machine (docs/BENCHMARKS.md, "F32 panels"): 1.8× at 1 token, about
 * 3× at 8 to 128 tokens, near the FMA peak of one core from 8 tokens on.
 */
final class PanelKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Rows per panel: four vectors. */
    static final int PANEL = 4 * L;
    /**
     * Tokens per block: 6 × 4 accumulators plus 4 weight vectors and a broadcast fit AVX-512's 32 registers; with 8
     * lanes or fewer (AVX2's 16 registers) blocks of 2.
     */
    static final boolean SIX_TOKENS = L >= 16;
    /** Shorts of bfloat16 weights per float vector. */
    private static final VectorSpecies<Short> S =
            ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** A Q8_0 panel column: 4L int8 quants in one byte vector of the float vector's size, widened a quarter at a time. */
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64.withShape(F.vectorShape());
    private static final int QBLOCK = Q8Matrix.BLOCK;
    /**
     * Tokens from which a Q8_0 panel is dequantised into an F32 tile before the F32 blocks, rather than widened in
     * registers per 4-token block. Measured (docs/BENCHMARKS.md, "Q8_0 dequantised into a tile"): the tile won in
     * prefill, lost at 8 tokens and was within the noise at 32. For BF16 (a shift to widen) it lost at 32 tokens, so
     * BF16 always widens in registers.
     */
    static final int TILE_FROM_TOKENS = 16;

    /**
     * A Q8_0 matrix in panels: the quant of (r, c) at quants[((r / PANEL) * cols + c) * PANEL + r % PANEL], the scale
     * of its block at scales[((r / PANEL) * (cols / 32) + c / 32) * PANEL + r % PANEL]; padding rows are zeros.
     */
    record Q8Panels(int rows, int cols, byte[] quants, float[] scales) {
    }

    private PanelKernels() {
    }

    /** Floats a packed matrix of rows × cols takes: rows rounded up to whole panels (the padding is zeros). */
    static long packedSize(int rows, int cols) {
        return (long) panels(rows) * PANEL * cols;
    }

    static int panels(int rows) {
        return (rows + PANEL - 1) / PANEL;
    }

    /** Packs row-major W [rows, cols] into panels: element (r, c) at (r / PANEL) * PANEL * cols + c * PANEL + r % PANEL. */
    static float[] pack(FloatBuffer w, int rows, int cols) {
        long size = packedSize(rows, cols);
        if (size > CpuMatrix.MAX_ARRAY) {
            throw new IllegalArgumentException(rows + " x " + cols + " packed into panels exceeds one array");
        }
        float[] p = new float[(int) size];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.get(r * cols, row);
            int base = (r / PANEL) * PANEL * cols + r % PANEL;
            for (int c = 0; c < cols; c++) {
                p[base + c * PANEL] = row[c];
            }
        }
        return p;
    }

    /** The same for a float array [rows, cols] from index 0 (tests). */
    static float[] pack(float[] w, int rows, int cols) {
        return pack(FloatBuffer.wrap(w), rows, cols);
    }

    /** Packs row-major bfloat16 bits [rows, cols] into panels, in the layout of {@link #pack(FloatBuffer, int, int)}. */
    static short[] packBF16(ShortBuffer w, int rows, int cols) {
        long size = packedSize(rows, cols);
        if (size > CpuMatrix.MAX_ARRAY) {
            throw new IllegalArgumentException(rows + " x " + cols + " packed into panels exceeds one array");
        }
        short[] p = new short[(int) size];
        short[] row = new short[cols];
        for (int r = 0; r < rows; r++) {
            w.get(r * cols, row);
            int base = (r / PANEL) * PANEL * cols + r % PANEL;
            for (int c = 0; c < cols; c++) {
                p[base + c * PANEL] = row[c];
            }
        }
        return p;
    }

    /** Packs a Q8_0 matrix into panels (the same quants and scales, another order). */
    static Q8Panels packQ8(Q8Matrix m) {
        int rows = m.rows(), cols = m.cols(), nb = cols / QBLOCK;
        long size = packedSize(rows, cols);
        if (size > CpuMatrix.MAX_ARRAY) {
            throw new IllegalArgumentException(rows + " x " + cols + " packed into panels exceeds one array");
        }
        byte[] q = new byte[(int) size];
        float[] d = new float[(int) (size / QBLOCK)];
        for (int r = 0; r < rows; r++) {
            int p = r / PANEL, i = r % PANEL;
            for (int c = 0; c < cols; c++) {
                q[(p * cols + c) * PANEL + i] = m.quant(r, c);
            }
            for (int b = 0; b < nb; b++) {
                d[(p * nb + b) * PANEL + i] = m.scale(r, b * QBLOCK);
            }
        }
        return new Q8Panels(rows, cols, q, d);
    }

    /**
     * y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T), W packed
     * by {@link #pack} from rows × cols. A panel only partly inside [r0, r1), or the last one when rows is not a
     * multiple of {@link #PANEL}, is computed whole into {@code tile} (at least T × PANEL floats) and its rows copied,
     * so ranges aligned to panels cost nothing extra; when accumulating, every panel goes through the tile and is
     * added to y after (y + s, one rounding per element, as unaccumulated outputs plus a separate add would be).
     */
    static void mul(float[] wp, int rows, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                    boolean accumulate, float[] tile) {
        mul(wp, null, null, rows, cols, x, T, y, yStride, yOff, r0, r1, accumulate, tile, null);
    }

    /**
     * As {@link #mul(float[], int, int, float[], int, float[], int, int, int, int, boolean, float[])} for bfloat16
     * weights packed by {@link #packBF16}: each weight vector is widened exactly in registers (the bits shifted into
     * the float's high half) right before its FMAs, so the arithmetic is that of the F32 panels over the widened
     * matrix, bit for bit.
     */
    static void mulBF16(short[] hp, int rows, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0,
                        int r1, boolean accumulate, float[] tile) {
        mul(null, hp, null, rows, cols, x, T, y, yStride, yOff, r0, r1, accumulate, tile, null);
    }

    /**
     * The same for a Q8_0 matrix in panels: each column's quants are widened and multiplied by their block's scales
     * (q · d is exact in float), in registers before outer-product FMAs in blocks of 4, 2 and 1 tokens or, from
     * {@link #TILE_FROM_TOKENS} tokens on, a panel at a time into {@code wtile} (at least PANEL × cols floats) for
     * the F32 blocks, so the arithmetic is that of the F32 panels over the dequantised matrix, bit for bit.
     */
    static void mulQ8(Q8Panels m, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                      boolean accumulate, float[] tile, float[] wtile) {
        mul(null, null, m, m.rows(), m.cols(), x, T, y, yStride, yOff, r0, r1, accumulate, tile, wtile);
    }

    /** The range logic of all three: exactly one of wp (F32), hp (bfloat16) and q8 is not null. */
    private static void mul(float[] wp, short[] hp, Q8Panels q8, int rows, int cols, float[] x, int T, float[] y,
                            int yStride, int yOff, int r0, int r1, boolean accumulate, float[] tile,
                            float[] wtile) {
        if (r0 < 0 || r1 > rows || r0 > r1) {
            throw new IllegalArgumentException("rows [" + r0 + ", " + r1 + ") outside [0, " + rows + ")");
        }
        for (int p = r0 / PANEL; p * PANEL < r1; p++) {
            int lo = p * PANEL;
            // NOTE: one call site, so C2 inlines panel and the small blocks once (see the NOTE above the blocks)
            boolean direct = lo >= r0 && lo + PANEL <= r1 && !accumulate;
            panel(wp, hp, q8, p, cols, x, T, direct ? y : tile, direct ? yStride : PANEL, direct ? yOff + lo : 0,
                    wtile);
            if (direct) {
                continue;
            }
            if (lo >= r0 && lo + PANEL <= r1) {
                for (int t = 0; t < T; t++) {
                    int yi = t * yStride + yOff + lo;
                    for (int v = 0; v < PANEL; v += L) {
                        FloatVector.fromArray(F, y, yi + v).add(FloatVector.fromArray(F, tile, t * PANEL + v))
                                .intoArray(y, yi + v);
                    }
                }
                continue;
            }
            int from = Math.max(lo, r0), to = Math.min(lo + PANEL, r1);
            for (int t = 0; t < T; t++) {
                for (int r = from; r < to; r++) {
                    int i = t * yStride + yOff + r;
                    float s = tile[t * PANEL + r - lo];
                    y[i] = accumulate ? y[i] + s : s;
                }
            }
        }
    }

    /**
     * All T tokens against panel p of wp, hp or q8; outputs at y[t*yStride + yo .. + PANEL). A Q8_0 panel from {@link
     * #TILE_FROM_TOKENS} tokens on is first dequantised whole into wtile (the exact weights) and runs the F32 blocks,
     * so each weight is converted once per call instead of once per 4-token block.
     */
    private static void panel(float[] wp, short[] hp, Q8Panels q8, int p, int cols, float[] x, int T, float[] y,
                              int yStride, int yo, float[] wtile) {
        int base = p * PANEL * cols;
        if (q8 != null && T >= TILE_FROM_TOKENS) {
            dequantQ8(q8, p, base, cols, wtile);
            wp = wtile;
            base = 0;
        } else if (wp == null) {
            inRegisters(hp, q8, p, base, cols, x, T, y, yStride, yo);
            return;
        }
        int t = 0;
        for (; SIX_TOKENS && t + 6 <= T; t += 6) {
            tokens6(wp, base, cols, x, t, y, yStride, yo);
        }
        for (; t + 2 <= T; t += 2) {
            tokens2(wp, base, cols, x, t, y, yStride, yo);
        }
        for (; t < T; t++) {
            tokens1(wp, base, cols, x, t, y, yStride, yo);
        }
    }

    /** A BF16 panel, or a Q8_0 one against fewer than {@link #TILE_FROM_TOKENS} tokens: weights widened in registers. */
    private static void inRegisters(short[] hp, Q8Panels q8, int p, int base, int cols, float[] x, int T, float[] y,
                                    int yStride, int yo) {
        int t = 0;
        if (q8 != null) {
            int sBase = p * (cols / QBLOCK) * PANEL;
            for (; t + 4 <= T; t += 4) {
                tokens4(q8.quants(), q8.scales(), base, sBase, cols, x, t, y, yStride, yo);
            }
            for (; t + 2 <= T; t += 2) {
                tokens2(q8.quants(), q8.scales(), base, sBase, cols, x, t, y, yStride, yo);
            }
            for (; t < T; t++) {
                tokens1(q8.quants(), q8.scales(), base, sBase, cols, x, t, y, yStride, yo);
            }
            return;
        }
        for (; SIX_TOKENS && t + 6 <= T; t += 6) {
            tokens6(hp, base, cols, x, t, y, yStride, yo);
        }
        for (; t + 2 <= T; t += 2) {
            tokens2(hp, base, cols, x, t, y, yStride, yo);
        }
        for (; t < T; t++) {
            tokens1(hp, base, cols, x, t, y, yStride, yo);
        }
    }

    /** Q8_0 panel p (quants from base) dequantised into tile[0 .. cols * PANEL), in the panel's layout. */
    private static void dequantQ8(Q8Panels q8, int p, int base, int cols, float[] tile) {
        byte[] q = q8.quants();
        float[] d = q8.scales();
        int sBase = p * (cols / QBLOCK) * PANEL;
        for (int c = 0, i = 0; c < cols; c++, i += PANEL) {
            int so = sBase + c / QBLOCK * PANEL;
            ByteVector v = ByteVector.fromArray(B, q, base + c * PANEL);
            FloatVector s0 = FloatVector.fromArray(F, d, so);
            FloatVector s1 = FloatVector.fromArray(F, d, so + L);
            FloatVector s2 = FloatVector.fromArray(F, d, so + 2 * L);
            FloatVector s3 = FloatVector.fromArray(F, d, so + 3 * L);
            ((FloatVector) v.convertShape(B2F, F, 0)).mul(s0).intoArray(tile, i);
            ((FloatVector) v.convertShape(B2F, F, 1)).mul(s1).intoArray(tile, i + L);
            ((FloatVector) v.convertShape(B2F, F, 2)).mul(s2).intoArray(tile, i + 2 * L);
            ((FloatVector) v.convertShape(B2F, F, 3)).mul(s3).intoArray(tile, i + 3 * L);
        }
    }

    // NOTE: one method per block shape, as in VectorKernels: a method holding all three let C2 run out of its node
    // budget and box the small blocks' vectors. For the same reason the widening of BF16 and Q8_0 weights is written
    // out in every block, not called through a helper: past the budget C2 still inlines the Vector API's own methods
    // (@ForceInline) but not ours, and a Q8_0 helper left as a call (its part index no longer a constant) ran 6x
    // slower.

    /** Tokens t..t+5 against one panel: 24 accumulators. */
    private static void tokens6(float[] wp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        FloatVector a40 = z, a41 = z, a42 = z, a43 = z, a50 = z, a51 = z, a52 = z, a53 = z;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols, x4 = x3 + cols, x5 = x4 + cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            FloatVector w0 = FloatVector.fromArray(F, wp, o);
            FloatVector w1 = FloatVector.fromArray(F, wp, o + L);
            FloatVector w2 = FloatVector.fromArray(F, wp, o + 2 * L);
            FloatVector w3 = FloatVector.fromArray(F, wp, o + 3 * L);
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
            b = FloatVector.broadcast(F, x[x2 + c]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            a22 = w2.fma(b, a22);
            a23 = w3.fma(b, a23);
            b = FloatVector.broadcast(F, x[x3 + c]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            a32 = w2.fma(b, a32);
            a33 = w3.fma(b, a33);
            b = FloatVector.broadcast(F, x[x4 + c]);
            a40 = w0.fma(b, a40);
            a41 = w1.fma(b, a41);
            a42 = w2.fma(b, a42);
            a43 = w3.fma(b, a43);
            b = FloatVector.broadcast(F, x[x5 + c]);
            a50 = w0.fma(b, a50);
            a51 = w1.fma(b, a51);
            a52 = w2.fma(b, a52);
            a53 = w3.fma(b, a53);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
        a20.intoArray(y, y0 + 2 * yStride);
        a21.intoArray(y, y0 + 2 * yStride + L);
        a22.intoArray(y, y0 + 2 * yStride + 2 * L);
        a23.intoArray(y, y0 + 2 * yStride + 3 * L);
        a30.intoArray(y, y0 + 3 * yStride);
        a31.intoArray(y, y0 + 3 * yStride + L);
        a32.intoArray(y, y0 + 3 * yStride + 2 * L);
        a33.intoArray(y, y0 + 3 * yStride + 3 * L);
        a40.intoArray(y, y0 + 4 * yStride);
        a41.intoArray(y, y0 + 4 * yStride + L);
        a42.intoArray(y, y0 + 4 * yStride + 2 * L);
        a43.intoArray(y, y0 + 4 * yStride + 3 * L);
        a50.intoArray(y, y0 + 5 * yStride);
        a51.intoArray(y, y0 + 5 * yStride + L);
        a52.intoArray(y, y0 + 5 * yStride + 2 * L);
        a53.intoArray(y, y0 + 5 * yStride + 3 * L);
    }

    /** Tokens t and t+1 against one panel. */
    private static void tokens2(float[] wp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        int x0 = t * cols, x1 = x0 + cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            FloatVector w0 = FloatVector.fromArray(F, wp, o);
            FloatVector w1 = FloatVector.fromArray(F, wp, o + L);
            FloatVector w2 = FloatVector.fromArray(F, wp, o + 2 * L);
            FloatVector w3 = FloatVector.fromArray(F, wp, o + 3 * L);
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
    }

    /** Token t against one panel: the decode path, four independent chains per column step. */
    private static void tokens1(float[] wp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
        int x0 = t * cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a0 = FloatVector.fromArray(F, wp, o).fma(b, a0);
            a1 = FloatVector.fromArray(F, wp, o + L).fma(b, a1);
            a2 = FloatVector.fromArray(F, wp, o + 2 * L).fma(b, a2);
            a3 = FloatVector.fromArray(F, wp, o + 3 * L).fma(b, a3);
        }
        a0.intoArray(y, t * yStride + yo);
        a1.intoArray(y, t * yStride + yo + L);
        a2.intoArray(y, t * yStride + yo + 2 * L);
        a3.intoArray(y, t * yStride + yo + 3 * L);
    }

    // ---- the same blocks over bfloat16 panels (text copies with the weight load widened; keep them in step) ----

    /** {@link #tokens6(float[], int, int, float[], int, float[], int, int)} over bfloat16 weights. */
    private static void tokens6(short[] hp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        FloatVector a40 = z, a41 = z, a42 = z, a43 = z, a50 = z, a51 = z, a52 = z, a53 = z;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols, x4 = x3 + cols, x5 = x4 + cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            IntVector h0 = (IntVector) ShortVector.fromArray(S, hp, o).convertShape(S2I, I, 0);
            FloatVector w0 = h0.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h1 = (IntVector) ShortVector.fromArray(S, hp, o + L).convertShape(S2I, I, 0);
            FloatVector w1 = h1.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h2 = (IntVector) ShortVector.fromArray(S, hp, o + 2 * L).convertShape(S2I, I, 0);
            FloatVector w2 = h2.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h3 = (IntVector) ShortVector.fromArray(S, hp, o + 3 * L).convertShape(S2I, I, 0);
            FloatVector w3 = h3.lanewise(LSHL, 16).reinterpretAsFloats();
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
            b = FloatVector.broadcast(F, x[x2 + c]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            a22 = w2.fma(b, a22);
            a23 = w3.fma(b, a23);
            b = FloatVector.broadcast(F, x[x3 + c]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            a32 = w2.fma(b, a32);
            a33 = w3.fma(b, a33);
            b = FloatVector.broadcast(F, x[x4 + c]);
            a40 = w0.fma(b, a40);
            a41 = w1.fma(b, a41);
            a42 = w2.fma(b, a42);
            a43 = w3.fma(b, a43);
            b = FloatVector.broadcast(F, x[x5 + c]);
            a50 = w0.fma(b, a50);
            a51 = w1.fma(b, a51);
            a52 = w2.fma(b, a52);
            a53 = w3.fma(b, a53);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
        a20.intoArray(y, y0 + 2 * yStride);
        a21.intoArray(y, y0 + 2 * yStride + L);
        a22.intoArray(y, y0 + 2 * yStride + 2 * L);
        a23.intoArray(y, y0 + 2 * yStride + 3 * L);
        a30.intoArray(y, y0 + 3 * yStride);
        a31.intoArray(y, y0 + 3 * yStride + L);
        a32.intoArray(y, y0 + 3 * yStride + 2 * L);
        a33.intoArray(y, y0 + 3 * yStride + 3 * L);
        a40.intoArray(y, y0 + 4 * yStride);
        a41.intoArray(y, y0 + 4 * yStride + L);
        a42.intoArray(y, y0 + 4 * yStride + 2 * L);
        a43.intoArray(y, y0 + 4 * yStride + 3 * L);
        a50.intoArray(y, y0 + 5 * yStride);
        a51.intoArray(y, y0 + 5 * yStride + L);
        a52.intoArray(y, y0 + 5 * yStride + 2 * L);
        a53.intoArray(y, y0 + 5 * yStride + 3 * L);
    }

    /** {@link #tokens2(float[], int, int, float[], int, float[], int, int)} over bfloat16 weights. */
    private static void tokens2(short[] hp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        int x0 = t * cols, x1 = x0 + cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            IntVector h0 = (IntVector) ShortVector.fromArray(S, hp, o).convertShape(S2I, I, 0);
            FloatVector w0 = h0.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h1 = (IntVector) ShortVector.fromArray(S, hp, o + L).convertShape(S2I, I, 0);
            FloatVector w1 = h1.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h2 = (IntVector) ShortVector.fromArray(S, hp, o + 2 * L).convertShape(S2I, I, 0);
            FloatVector w2 = h2.lanewise(LSHL, 16).reinterpretAsFloats();
            IntVector h3 = (IntVector) ShortVector.fromArray(S, hp, o + 3 * L).convertShape(S2I, I, 0);
            FloatVector w3 = h3.lanewise(LSHL, 16).reinterpretAsFloats();
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
    }

    /** {@link #tokens1(float[], int, int, float[], int, float[], int, int)} over bfloat16 weights. */
    private static void tokens1(short[] hp, int base, int cols, float[] x, int t, float[] y, int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
        int x0 = t * cols;
        for (int c = 0, o = base; c < cols; c++, o += PANEL) {
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            IntVector h0 = (IntVector) ShortVector.fromArray(S, hp, o).convertShape(S2I, I, 0);
            a0 = h0.lanewise(LSHL, 16).reinterpretAsFloats().fma(b, a0);
            IntVector h1 = (IntVector) ShortVector.fromArray(S, hp, o + L).convertShape(S2I, I, 0);
            a1 = h1.lanewise(LSHL, 16).reinterpretAsFloats().fma(b, a1);
            IntVector h2 = (IntVector) ShortVector.fromArray(S, hp, o + 2 * L).convertShape(S2I, I, 0);
            a2 = h2.lanewise(LSHL, 16).reinterpretAsFloats().fma(b, a2);
            IntVector h3 = (IntVector) ShortVector.fromArray(S, hp, o + 3 * L).convertShape(S2I, I, 0);
            a3 = h3.lanewise(LSHL, 16).reinterpretAsFloats().fma(b, a3);
        }
        a0.intoArray(y, t * yStride + yo);
        a1.intoArray(y, t * yStride + yo + L);
        a2.intoArray(y, t * yStride + yo + 2 * L);
        a3.intoArray(y, t * yStride + yo + 3 * L);
    }

    // ---- the blocks over Q8_0 panels: 4 tokens at most (4 scale vectors live beside the accumulators) ----

    /** Tokens t..t+3 against one Q8_0 panel whose quants start at qBase and scales at sBase. */
    private static void tokens4(byte[] q, float[] d, int qBase, int sBase, int cols, float[] x, int t, float[] y,
                                int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        // NOTE: one loop over the columns, the block's scales loaded per column (L1 hits): with the scales loaded in
        // an outer loop over blocks, C2 on JDK 17 ran this 4x slower (5 against 21 GFLOP/s at 1 token, isolated)
        for (int c = 0, o = qBase; c < cols; c++, o += PANEL) {
            int so = sBase + c / QBLOCK * PANEL;
            FloatVector s0 = FloatVector.fromArray(F, d, so);
            FloatVector s1 = FloatVector.fromArray(F, d, so + L);
            FloatVector s2 = FloatVector.fromArray(F, d, so + 2 * L);
            FloatVector s3 = FloatVector.fromArray(F, d, so + 3 * L);
            ByteVector v = ByteVector.fromArray(B, q, o);
            FloatVector w0 = ((FloatVector) v.convertShape(B2F, F, 0)).mul(s0);
            FloatVector w1 = ((FloatVector) v.convertShape(B2F, F, 1)).mul(s1);
            FloatVector w2 = ((FloatVector) v.convertShape(B2F, F, 2)).mul(s2);
            FloatVector w3 = ((FloatVector) v.convertShape(B2F, F, 3)).mul(s3);
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
            b = FloatVector.broadcast(F, x[x2 + c]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            a22 = w2.fma(b, a22);
            a23 = w3.fma(b, a23);
            b = FloatVector.broadcast(F, x[x3 + c]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            a32 = w2.fma(b, a32);
            a33 = w3.fma(b, a33);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
        a20.intoArray(y, y0 + 2 * yStride);
        a21.intoArray(y, y0 + 2 * yStride + L);
        a22.intoArray(y, y0 + 2 * yStride + 2 * L);
        a23.intoArray(y, y0 + 2 * yStride + 3 * L);
        a30.intoArray(y, y0 + 3 * yStride);
        a31.intoArray(y, y0 + 3 * yStride + L);
        a32.intoArray(y, y0 + 3 * yStride + 2 * L);
        a33.intoArray(y, y0 + 3 * yStride + 3 * L);
    }

    /** Tokens t and t+1 against one Q8_0 panel. */
    private static void tokens2(byte[] q, float[] d, int qBase, int sBase, int cols, float[] x, int t, float[] y,
                                int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        int x0 = t * cols, x1 = x0 + cols;
        // NOTE: one loop over the columns, the block's scales loaded per column (L1 hits): with the scales loaded in
        // an outer loop over blocks, C2 on JDK 17 ran this 4x slower (5 against 21 GFLOP/s at 1 token, isolated)
        for (int c = 0, o = qBase; c < cols; c++, o += PANEL) {
            int so = sBase + c / QBLOCK * PANEL;
            FloatVector s0 = FloatVector.fromArray(F, d, so);
            FloatVector s1 = FloatVector.fromArray(F, d, so + L);
            FloatVector s2 = FloatVector.fromArray(F, d, so + 2 * L);
            FloatVector s3 = FloatVector.fromArray(F, d, so + 3 * L);
            ByteVector v = ByteVector.fromArray(B, q, o);
            FloatVector w0 = ((FloatVector) v.convertShape(B2F, F, 0)).mul(s0);
            FloatVector w1 = ((FloatVector) v.convertShape(B2F, F, 1)).mul(s1);
            FloatVector w2 = ((FloatVector) v.convertShape(B2F, F, 2)).mul(s2);
            FloatVector w3 = ((FloatVector) v.convertShape(B2F, F, 3)).mul(s3);
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            a02 = w2.fma(b, a02);
            a03 = w3.fma(b, a03);
            b = FloatVector.broadcast(F, x[x1 + c]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            a12 = w2.fma(b, a12);
            a13 = w3.fma(b, a13);
        }
        int y0 = t * yStride + yo;
        a00.intoArray(y, y0);
        a01.intoArray(y, y0 + L);
        a02.intoArray(y, y0 + 2 * L);
        a03.intoArray(y, y0 + 3 * L);
        a10.intoArray(y, y0 + yStride);
        a11.intoArray(y, y0 + yStride + L);
        a12.intoArray(y, y0 + yStride + 2 * L);
        a13.intoArray(y, y0 + yStride + 3 * L);
    }

    /** Token t against one Q8_0 panel: the decode path, a byte per weight read. */
    private static void tokens1(byte[] q, float[] d, int qBase, int sBase, int cols, float[] x, int t, float[] y,
                                int yStride, int yo) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
        int x0 = t * cols;
        // NOTE: one loop over the columns, the block's scales loaded per column (L1 hits): with the scales loaded in
        // an outer loop over blocks, C2 on JDK 17 ran this 4x slower (5 against 21 GFLOP/s at 1 token, isolated)
        for (int c = 0, o = qBase; c < cols; c++, o += PANEL) {
            int so = sBase + c / QBLOCK * PANEL;
            FloatVector s0 = FloatVector.fromArray(F, d, so);
            FloatVector s1 = FloatVector.fromArray(F, d, so + L);
            FloatVector s2 = FloatVector.fromArray(F, d, so + 2 * L);
            FloatVector s3 = FloatVector.fromArray(F, d, so + 3 * L);
            ByteVector v = ByteVector.fromArray(B, q, o);
            FloatVector b = FloatVector.broadcast(F, x[x0 + c]);
            a0 = ((FloatVector) v.convertShape(B2F, F, 0)).mul(s0).fma(b, a0);
            a1 = ((FloatVector) v.convertShape(B2F, F, 1)).mul(s1).fma(b, a1);
            a2 = ((FloatVector) v.convertShape(B2F, F, 2)).mul(s2).fma(b, a2);
            a3 = ((FloatVector) v.convertShape(B2F, F, 3)).mul(s3).fma(b, a3);
        }
        a0.intoArray(y, t * yStride + yo);
        a1.intoArray(y, t * yStride + yo + L);
        a2.intoArray(y, t * yStride + yo + 2 * L);
        a3.intoArray(y, t * yStride + yo + 3 * L);
    }
}
