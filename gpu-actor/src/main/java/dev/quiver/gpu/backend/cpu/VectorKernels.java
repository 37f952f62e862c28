package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.model.DTypes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU backend's hot loops on the Vector API. {@link ScalarKernels} holds the readable twin of each, and a
 * differential test keeps them in agreement.
 *
 * <p>NOTE: results must not depend on the batch nor on the JIT tier (a request replayed on another node must
 * continue identically). So every output element is one dot product accumulated lane-wise with exact FMAs
 * in a fixed order, and the lanes are summed by our own butterfly tree (lane i + lane i + h, h = L/2 .. 1, built
 * from lane-wise adds, blends and fixed permutations) rather than {@code reduceLanes}, whose order the Vector API
 * leaves unspecified (the interpreter and C2 may differ). The tree sums 16 (or 4) outputs' accumulators together,
 * each in the same order as if alone. Tokens are processed four at a time to reuse each loaded weight vector,
 * which changes nothing in any one token's arithmetic. {@link ScalarKernels#treeOrderDot} is the exact twin.
 */
public final class VectorKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Shorts of half-precision weights per float vector of L lanes. */
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());

    private VectorKernels() {
    }

    public static int lanes() {
        return L;
    }

    /** Scratch one thread needs: room for 16 accumulators of L lanes and the vectors of their sums. */
    static int scratchSize() {
        return 16 * L + Math.max(16, 2 * L);
    }

    /**
     * Where each accumulator's sum lands after {@link #sums16}, {@link #sums4} and {@link #sums1}: the index in
     * scratch of accumulator j's sum (accumulators are numbered as they were stored, j at scratch[j*L]).
     */
    private static final int[] SUM16 = butterflyPositions(16, L);
    private static final int[] SUM4 = butterflyPositions(4, L);
    /** Whether the vector butterfly applies: 8 or 16 lanes (AVX2, AVX-512); other widths sum the same tree in scalar. */
    private static final boolean NETWORK = L == 8 || L == 16;
    // Per butterfly level h (lane distance h = 8, 4, 2, 1): the lanes whose index has bit h set, and i -> i ^ h.
    private static final VectorMask<Float> M8 = upperLanes(8);
    private static final VectorMask<Float> M4 = upperLanes(4);
    private static final VectorMask<Float> M2 = upperLanes(2);
    private static final VectorMask<Float> M1 = upperLanes(1);
    private static final VectorShuffle<Float> S8 = swapLanes(8);
    private static final VectorShuffle<Float> S4 = swapLanes(4);
    private static final VectorShuffle<Float> S2 = swapLanes(2);
    private static final VectorShuffle<Float> S1 = swapLanes(1);

    private static VectorMask<Float> upperLanes(int h) {
        boolean[] bits = new boolean[L];
        for (int i = 0; i < L; i++) {
            bits[i] = h < L && (i & h) != 0;
        }
        return VectorMask.fromArray(F, bits, 0);
    }

    private static VectorShuffle<Float> swapLanes(int h) {
        return VectorShuffle.fromOp(F, i -> h < L ? i ^ h : i);
    }

    /**
     * Simulates which lane ends up holding which accumulator's sum: at level h, output lane i comes from the first
     * vector of the pair when bit h of i is clear and from the second when it is set; an odd vector out is paired
     * with itself. Returns, for each of the n accumulators, the scratch index 16*L + v*L + i of the first lane
     * holding its sum (every lane holding it holds the same bits: the two addends of each level just swap places,
     * and float addition is commutative).
     */
    static int[] butterflyPositions(int n, int lanes) {
        int[][] owner = new int[n][lanes];
        for (int j = 0; j < n; j++) {
            java.util.Arrays.fill(owner[j], j);
        }
        int count = n;
        for (int h = lanes / 2; h >= 1; h >>= 1) {
            int k = 0;
            for (int p = 0; p < count; p += 2) {
                int[] a = owner[p];
                int[] b = p + 1 < count ? owner[p + 1] : a;
                int[] o = new int[lanes];
                for (int i = 0; i < lanes; i++) {
                    o[i] = (i & h) == 0 ? a[i] : b[i];
                }
                owner[k++] = o;
            }
            count = k;
        }
        int[] pos = new int[n];
        java.util.Arrays.fill(pos, -1);
        for (int v = count - 1; v >= 0; v--) {
            for (int i = lanes - 1; i >= 0; i--) {
                pos[owner[v][i]] = 16 * lanes + v * lanes + i;
            }
        }
        return pos;
    }

    /**
     * One butterfly level over two vectors: lanes i with bit h clear get a[i] + a[i ^ h], lanes with it set get
     * b[i] + b[i ^ h]. Lane-wise adds, blends and a fixed permutation: exact, so the same bits in every JIT tier.
     */
    private static FloatVector butterfly(FloatVector a, FloatVector b, VectorMask<Float> upper,
                                         VectorShuffle<Float> swap) {
        return a.blend(b, upper).add(b.blend(a, upper).rearrange(swap));
    }

    /**
     * Sums the lanes of the 16 accumulators stored at scratch[j*L, (j+1)*L) with the butterfly tree: at each level
     * h = L/2, L/4, ..., 1 lane i adds lane i + h, for i &lt; h (exactly {@link ScalarKernels#treeOrderDot}'s lane
     * sum). Accumulator j's sum lands at scratch[SUM16[j]].
     *
     * <p>NOTE: a 16-accumulator network kept in registers inside the 4x4 kernel pushed C2 past its inlining node
     * budget (the kernel's vector calls went uninlined and boxed); through scratch it is its own small method, and
     * the stores and reloads hit L1 with store forwarding. The order replaces the sequential lane sum, whose
     * 15 dependent scalar adds per output cost about as much as the FMAs at hidden size 768 and 16 lanes.
     */
    private static void sums16(float[] s) {
        if (!NETWORK) {
            scalarSums(s, 16);
            return;
        }
        FloatVector c0, c1, c2, c3, c4, c5, c6, c7;
        if (L == 16) {
            c0 = butterfly(v(s, 0), v(s, 1), M8, S8);
            c1 = butterfly(v(s, 2), v(s, 3), M8, S8);
            c2 = butterfly(v(s, 4), v(s, 5), M8, S8);
            c3 = butterfly(v(s, 6), v(s, 7), M8, S8);
            c4 = butterfly(v(s, 8), v(s, 9), M8, S8);
            c5 = butterfly(v(s, 10), v(s, 11), M8, S8);
            c6 = butterfly(v(s, 12), v(s, 13), M8, S8);
            c7 = butterfly(v(s, 14), v(s, 15), M8, S8);
        } else {
            c0 = butterfly(v(s, 0), v(s, 1), M4, S4);
            c1 = butterfly(v(s, 2), v(s, 3), M4, S4);
            c2 = butterfly(v(s, 4), v(s, 5), M4, S4);
            c3 = butterfly(v(s, 6), v(s, 7), M4, S4);
            c4 = butterfly(v(s, 8), v(s, 9), M4, S4);
            c5 = butterfly(v(s, 10), v(s, 11), M4, S4);
            c6 = butterfly(v(s, 12), v(s, 13), M4, S4);
            c7 = butterfly(v(s, 14), v(s, 15), M4, S4);
        }
        FloatVector d0, d1, d2, d3;
        if (L == 16) {
            d0 = butterfly(c0, c1, M4, S4);
            d1 = butterfly(c2, c3, M4, S4);
            d2 = butterfly(c4, c5, M4, S4);
            d3 = butterfly(c6, c7, M4, S4);
        } else {
            d0 = butterfly(c0, c1, M2, S2);
            d1 = butterfly(c2, c3, M2, S2);
            d2 = butterfly(c4, c5, M2, S2);
            d3 = butterfly(c6, c7, M2, S2);
        }
        if (L == 16) {
            FloatVector e0 = butterfly(d0, d1, M2, S2);
            FloatVector e1 = butterfly(d2, d3, M2, S2);
            butterfly(e0, e1, M1, S1).intoArray(s, 16 * L);
        } else {
            butterfly(d0, d1, M1, S1).intoArray(s, 16 * L);
            butterfly(d2, d3, M1, S1).intoArray(s, 17 * L);
        }
    }

    /** As {@link #sums16} for the 4 accumulators at scratch[0, 4L); accumulator j's sum lands at scratch[SUM4[j]]. */
    private static void sums4(float[] s) {
        if (!NETWORK) {
            scalarSums(s, 4);
            return;
        }
        FloatVector d;
        if (L == 16) {
            FloatVector c0 = butterfly(v(s, 0), v(s, 1), M8, S8);
            FloatVector c1 = butterfly(v(s, 2), v(s, 3), M8, S8);
            d = butterfly(c0, c1, M4, S4);
            d = d.add(d.rearrange(S2));
        } else {
            FloatVector c0 = butterfly(v(s, 0), v(s, 1), M4, S4);
            FloatVector c1 = butterfly(v(s, 2), v(s, 3), M4, S4);
            d = butterfly(c0, c1, M2, S2);
        }
        d.add(d.rearrange(S1)).intoArray(s, 16 * L);
    }

    /** The butterfly sum of one vector's lanes (lane 0 of the last level). */
    private static float sum1(FloatVector a) {
        if (!NETWORK) {
            float[] t = new float[L];
            a.intoArray(t, 0);
            return treeSum(t, 0, L);
        }
        if (L == 16) {
            a = a.add(a.rearrange(S8));
        }
        a = a.add(a.rearrange(S4));
        a = a.add(a.rearrange(S2));
        return a.add(a.rearrange(S1)).lane(0);
    }

    private static FloatVector v(float[] s, int j) {
        return FloatVector.fromArray(F, s, j * L);
    }

    /** The butterfly tree in scalar code, for lane counts the vector network does not cover. */
    private static void scalarSums(float[] s, int n) {
        int[] pos = n == 16 ? SUM16 : SUM4;
        float[] sums = new float[n];
        for (int j = 0; j < n; j++) {
            sums[j] = treeSum(s, j * L, L);
        }
        for (int j = 0; j < n; j++) {
            s[pos[j]] = sums[j];
        }
    }

    /** Lanes a[off, off + lanes) summed by the butterfly tree: lane i += lane i + h for i &lt; h, h = lanes/2 .. 1. */
    static float treeSum(float[] a, int off, int lanes) {
        float[] t = java.util.Arrays.copyOfRange(a, off, off + lanes);
        for (int h = lanes / 2; h >= 1; h >>= 1) {
            for (int i = 0; i < h; i++) {
                t[i] = t[i] + t[i + h];
            }
        }
        return t[0];
    }

    /**
     * y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T), W
     * row-major float32 in a little-endian buffer (matrices over 2 GiB are refused at load).
     */
    static void mulF32(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                       boolean accumulate, float[] scratch) {
        mul(w, cols, x, T, y, yStride, yOff, r0, r1, accumulate, scratch);
    }

    /**
     * As {@link #mulF32} for a float array W starting at wOff ([rows, cols] row-major). A convenience for cold
     * paths and tests: it copies the rows into a buffer first, since the hot kernel reads buffers only.
     */
    static void mulArray(float[] w, int wOff, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0,
                         int r1, boolean accumulate, float[] scratch) {
        ByteBuffer b = ByteBuffer.allocate(r1 * cols * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(w, wOff, r1 * cols);
        mul(b, cols, x, T, y, yStride, yOff, r0, r1, accumulate, scratch);
    }

    /** A float array as a little-endian direct buffer, the layout the kernels read. */
    public static ByteBuffer toBuffer(float[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }

    /**
     * Register-blocked product: 4 rows × 4 tokens share each loaded vector (16 accumulators), then 4 rows × 1
     * token for the remaining tokens, then single rows. Every output is the same lane-wise FMA chain over the
     * columns in order, the same lane sum and the same scalar tail, whichever block computed it.
     */
    // NOTE: one concrete weight type (a buffer) keeps every vector op inlined; an interface here made C2 box
    // vectors and cost 7x at batch 1.
    private static void mul(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                            boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
                FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                    FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                    FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                    FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                    FloatVector w0 = FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE);
                    a00 = v0.fma(w0, a00);
                    a01 = v1.fma(w0, a01);
                    a02 = v2.fma(w0, a02);
                    a03 = v3.fma(w0, a03);
                    FloatVector w1 = FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE);
                    a10 = v0.fma(w1, a10);
                    a11 = v1.fma(w1, a11);
                    a12 = v2.fma(w1, a12);
                    a13 = v3.fma(w1, a13);
                    FloatVector w2 = FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE);
                    a20 = v0.fma(w2, a20);
                    a21 = v1.fma(w2, a21);
                    a22 = v2.fma(w2, a22);
                    a23 = v3.fma(w2, a23);
                    FloatVector w3 = FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE);
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
                sums16(scratch);
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 4; k++) {
                        float s = tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[SUM16[j * 4 + k]]);
                        store(y, (t + k) * yStride + yOff + r + j, s, accumulate);
                    }
                }
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols;
                int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                    a0 = v.fma(FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE), a0);
                    a1 = v.fma(FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE), a1);
                    a2 = v.fma(FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE), a2);
                    a3 = v.fma(FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE), a3);
                }
                a0.intoArray(scratch, 0);
                a1.intoArray(scratch, L);
                a2.intoArray(scratch, 2 * L);
                a3.intoArray(scratch, 3 * L);
                sums4(scratch);
                for (int j = 0; j < 4; j++) {
                    float s = tail(w, r + j, x, x0, upper, cols, scratch[SUM4[j]]);
                    store(y, t * yStride + yOff + r + j, s, accumulate);
                }
            }
        }
        for (; r < r1; r++) {
            for (int t = 0; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(FloatVector.fromByteBuffer(F, w, (r * cols + i) * 4, LE), a0);
                }
                store(y, t * yStride + yOff + r, tail(w, r, x, x0, upper, cols, sum1(a0)), accumulate);
            }
        }
    }

    /**
     * As {@link #mulF32} for W in bfloat16, read in place: each weight vector is widened exactly in registers
     * (16-bit lanes to 32-bit, shifted into the float's high half) right before its FMAs, so nothing is written
     * to scratch. The arithmetic is exactly that of {@link #mulF32} over the widened matrix: same FMA chains,
     * same lane sums, same tail, so same bits.
     */
    // NOTE: each block shape is its own method. In one method, C2 reached its node budget
    // (NodeCountInliningCutoff) inlining the 4x4 path once batches of 8 had made it hot, left the 1-token path's
    // vector calls uninlined and boxed, and batch-1 decode ran ~4x slower than the tile widening it replaced (a
    // microbenchmark warmed at batch 1 only hid it). The 4x4 method is too large to be inlined back.
    static void mulBF16(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                        int r0, int r1, boolean accumulate, float[] scratch) {
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = T >= 4 ? bf16Rows4Tokens4(w, cols, x, T, y, yStride, yOff, r, accumulate, scratch) : 0;
            if (t < T) {
                bf16Rows4Tokens1(w, cols, x, t, T, y, yStride, yOff, r, accumulate, scratch);
            }
        }
        if (r < r1) {
            bf16Rows1(w, cols, x, T, y, yStride, yOff, r, r1, accumulate, scratch);
        }
    }

    /** Rows r..r+3, tokens in blocks of 4 while 4 remain; returns the first token left. */
    private static int bf16Rows4Tokens4(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                                        int r, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        int t = 0;
        for (; t + 4 <= T; t += 4) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
            int rb0 = r * cols * 2, rb1 = rb0 + cols * 2, rb2 = rb1 + cols * 2, rb3 = rb2 + cols * 2;
            for (int i = 0; i < upper; i += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                FloatVector w0 = bf16(w, rb0 + i * 2);
                a00 = v0.fma(w0, a00);
                a01 = v1.fma(w0, a01);
                a02 = v2.fma(w0, a02);
                a03 = v3.fma(w0, a03);
                FloatVector w1 = bf16(w, rb1 + i * 2);
                a10 = v0.fma(w1, a10);
                a11 = v1.fma(w1, a11);
                a12 = v2.fma(w1, a12);
                a13 = v3.fma(w1, a13);
                FloatVector w2 = bf16(w, rb2 + i * 2);
                a20 = v0.fma(w2, a20);
                a21 = v1.fma(w2, a21);
                a22 = v2.fma(w2, a22);
                a23 = v3.fma(w2, a23);
                FloatVector w3 = bf16(w, rb3 + i * 2);
                a30 = v0.fma(w3, a30);
                a31 = v1.fma(w3, a31);
                a32 = v2.fma(w3, a32);
                a33 = v3.fma(w3, a33);
            }
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
            sums16(scratch);
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 4; k++) {
                    float s = bf16Tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[SUM16[j * 4 + k]]);
                    store(y, (t + k) * yStride + yOff + r + j, s, accumulate);
                }
            }
        }
        return t;
    }

    /** Rows r..r+3, tokens t0..T-1 one at a time. */
    private static void bf16Rows4Tokens1(ByteBuffer w, int cols, float[] x, int t0, int T, float[] y, int yStride,
                                         int yOff, int r, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        for (int t = t0; t < T; t++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int x0 = t * cols;
            int rb0 = r * cols * 2, rb1 = rb0 + cols * 2, rb2 = rb1 + cols * 2, rb3 = rb2 + cols * 2;
            for (int i = 0; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                a0 = v.fma(bf16(w, rb0 + i * 2), a0);
                a1 = v.fma(bf16(w, rb1 + i * 2), a1);
                a2 = v.fma(bf16(w, rb2 + i * 2), a2);
                a3 = v.fma(bf16(w, rb3 + i * 2), a3);
            }
            a0.intoArray(scratch, 0);
            a1.intoArray(scratch, L);
            a2.intoArray(scratch, 2 * L);
            a3.intoArray(scratch, 3 * L);
            sums4(scratch);
            for (int j = 0; j < 4; j++) {
                float s = bf16Tail(w, r + j, x, x0, upper, cols, scratch[SUM4[j]]);
                store(y, t * yStride + yOff + r + j, s, accumulate);
            }
        }
    }

    /** Rows r0..r1-1 one at a time, every token. */
    private static void bf16Rows1(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0,
                                  int r1, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            for (int t = 0; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(bf16(w, (r * cols + i) * 2), a0);
                }
                store(y, t * yStride + yOff + r, bf16Tail(w, r, x, x0, upper, cols, sum1(a0)), accumulate);
            }
        }
    }

    /** L bfloat16 weights at byte offset {@code off}, widened exactly to floats. */
    private static FloatVector bf16(ByteBuffer w, int off) {
        // S2I sign-extends; the shift drops the extension
        return widen(w, off).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** L 16-bit values at byte offset {@code off}, sign-extended to ints. */
    private static IntVector widen(ByteBuffer w, int off) {
        return (IntVector) ShortVector.fromByteBuffer(S, w, off, LE).convertShape(VectorOperators.S2I, I, 0);
    }

    /** L 16-bit weights at byte offset {@code off}, widened exactly to floats (bfloat16 or IEEE half). */
    private static FloatVector half(ByteBuffer w, int off, boolean bf16) {
        return bf16 ? bf16(w, off) : f16(widen(w, off));
    }

    /**
     * IEEE half bits (sign-extended to 32) → float, exactly as {@code DTypes.f16ToFloat}: the magnitude bits
     * shifted into float position and scaled by 2^112 re-bias the exponent exactly (subnormal halves become
     * normal floats); infinities and NaNs (exponent 31) take the all-ones float exponent with their mantissa.
     */
    private static FloatVector f16(IntVector bits) {
        IntVector abs = bits.and(0x7fff);
        IntVector shifted = abs.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        IntVector special = shifted.or(0x7f800000);
        IntVector magnitude = finite.blend(special, abs.compare(VectorOperators.GE, 0x7c00));
        return magnitude.or(bits.and(0x80000000)).reinterpretAsFloats();
    }

    private static float halfAt(ByteBuffer w, int index, boolean bf16) {
        short h = w.getShort(index * 2);
        return bf16 ? DTypes.bf16ToFloat(h) : DTypes.f16ToFloat(h);
    }

    private static float bf16Tail(ByteBuffer w, int row, float[] x, int x0, int upper, int cols, float s) {
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], DTypes.bf16ToFloat(w.getShort((row * cols + i) * 2)), s);
        }
        return s;
    }

    /**
     * Widens n half-precision values (bfloat16 or IEEE half) at element index {@code from} into dst[0, n)
     * through the in-register conversion of the kernels; for tests of that conversion.
     */
    static void halfToFloat(ByteBuffer src, boolean bf16, int from, float[] dst, int n) {
        int upper = n - n % L;
        int i = 0;
        for (; i < upper; i += L) {
            half(src, (from + i) * 2, bf16).intoArray(dst, i);
        }
        for (; i < n; i++) {
            dst[i] = halfAt(src, from + i, bf16);
        }
    }

    private static float tail(ByteBuffer w, int row, float[] x, int x0, int upper, int cols, float s) {
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], w.getFloat((row * cols + i) * 4), s);
        }
        return s;
    }

    /**
     * y[o] = sum over k of t[k] * bt[k*out + o] for o in [o0, o1): the LoRA expand with B stored transposed
     * ([rank, out]), vectorised over the outputs, so no lane sums are needed. Accumulates over k in order.
     */
    static void expand(float[] bt, int rank, int out, float[] t, int tOff, float[] y, int yOff, int o0, int o1) {
        int o = o0;
        int upper = o0 + (o1 - o0) / L * L;
        for (; o < upper; o += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int k = 0; k < rank; k++) {
                acc = FloatVector.fromArray(F, bt, k * out + o).fma(FloatVector.broadcast(F, t[tOff + k]), acc);
            }
            acc.intoArray(y, yOff + o);
        }
        for (; o < o1; o++) {
            float acc = 0f;
            for (int k = 0; k < rank; k++) {
                acc = Math.fma(bt[k * out + o], t[tOff + k], acc);
            }
            y[yOff + o] = acc;
        }
    }

    private static void store(float[] y, int idx, float v, boolean accumulate) {
        y[idx] = accumulate ? y[idx] + v : v;
    }

    /** a[aOff..+n)·b[bOff..+n): lane-wise FMAs in order, lanes summed in order, then a scalar tail. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n, float[] scratch) {
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < upper; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = sum1(acc);
        for (int i = upper; i < n; i++) {
            s = Math.fma(a[aOff + i], b[bOff + i], s);
        }
        return s;
    }

    /** out[oOff..+n) = p·v[vOff..+n) + out[oOff..+n), element-wise FMAs. */
    static void axpy(float p, float[] v, int vOff, float[] out, int oOff, int n) {
        int upper = F.loopBound(n);
        FloatVector pv = FloatVector.broadcast(F, p);
        for (int i = 0; i < upper; i += L) {
            pv.fma(FloatVector.fromArray(F, v, vOff + i), FloatVector.fromArray(F, out, oOff + i))
                    .intoArray(out, oOff + i);
        }
        for (int i = upper; i < n; i++) {
            out[oOff + i] = Math.fma(p, v[vOff + i], out[oOff + i]);
        }
    }

    /**
     * Widens n half-precision values (bfloat16 or IEEE half) at element index {@code from} into the little-endian
     * float buffer dst, through the in-register conversion (the one {@link #mulBF16} uses for bfloat16).
     */
    static void halfToFloat(ByteBuffer src, boolean bf16, int from, ByteBuffer dst, int n) {
        int upper = n - n % L;
        int i = 0;
        for (; i < upper; i += L) {
            half(src, (from + i) * 2, bf16).intoByteBuffer(dst, i * 4, LE);
        }
        for (; i < n; i++) {
            dst.putFloat(i * 4, halfAt(src, from + i, bf16));
        }
    }

    /** Converts n bfloat16 values at element index {@code from} of a little-endian buffer into dst[0, n). */
    static void bf16ToFloat(ByteBuffer src, int from, float[] dst, int n) {
        halfToFloat(src, true, from, dst, n);
    }

    /** out[i] = silu(gate[i]) * up[i] over [from, to). */
    static void siluMul(float[] gate, float[] up, int from, int to) {
        for (int i = from; i < to; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }
}
