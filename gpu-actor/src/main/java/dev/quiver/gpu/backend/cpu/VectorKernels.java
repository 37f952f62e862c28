package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.model.DTypes;
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
    /** 8 lanes or fewer: the float32 kernel takes 4 rows x 3 tokens blocks (AVX2 has 16 vector registers). */
    static final boolean THREE_TOKENS = L <= 8;
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

    /** Scratch one thread needs: room for 16 accumulators of L lanes and their 16 sums. */
    static int scratchSize() {
        return 16 * L + 16;
    }

    /**
     * Sums the lanes of accumulators 0..n-1 stored at scratch[j*L, (j+1)*L), writing sum j to scratch[16*L + j]:
     * ((lane0 + lane1) + lane2) + ... in lane order, the same in the interpreter and in compiled code.
     *
     * <p>NOTE: a vectorised version (L accumulators at a time through an index-mapped gather) returned wrong
     * sums once C2 compiled it on JDK 17.0.15, caught by the engine's batch-invariance tests; keep this plain.
     */
    private static void sumLanes(float[] scratch, int n) {
        int out = 16 * L;
        int j = 0;
        // four accumulators at a time, interleaved: each keeps its own order, the four chains overlap in the CPU
        for (; j + 4 <= n; j += 4) {
            int b0 = j * L, b1 = b0 + L, b2 = b1 + L, b3 = b2 + L;
            float s0 = scratch[b0], s1 = scratch[b1], s2 = scratch[b2], s3 = scratch[b3];
            for (int l = 1; l < L; l++) {
                s0 += scratch[b0 + l];
                s1 += scratch[b1 + l];
                s2 += scratch[b2 + l];
                s3 += scratch[b3 + l];
            }
            scratch[out + j] = s0;
            scratch[out + j + 1] = s1;
            scratch[out + j + 2] = s2;
            scratch[out + j + 3] = s3;
        }
        for (; j < n; j++) {
            int base = j * L;
            float s = scratch[base];
            for (int l = 1; l < L; l++) {
                s += scratch[base + l];
            }
            scratch[out + j] = s;
        }
    }

    /**
     * y[t*yStride + yOff + r] (+)= W[r,:]·x[t*cols .. +cols] for rows r in [r0, r1) and tokens t in [0, T), W
     * row-major float32 in a little-endian buffer (matrices over 2 GiB are refused at load).
     */
    static void mulF32(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                       boolean accumulate, float[] scratch) {
        mul(w, cols, x, T, y, yStride, yOff, r0, r1, accumulate, scratch, THREE_TOKENS);
    }

    /**
     * {@link #mulF32} through the 4 rows x 3 tokens blocks whatever the vector width, so that tests on a 16-lane
     * machine cover the path AVX2 machines take.
     */
    static void mulF32ThreeTokenBlocks(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                                       int r0, int r1, boolean accumulate, float[] scratch) {
        mul(w, cols, x, T, y, yStride, yOff, r0, r1, accumulate, scratch, true);
    }

    /** A float array as a little-endian direct buffer, the layout the kernels read. */
    public static ByteBuffer toBuffer(float[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }

    /**
     * Register-blocked product: 4 rows × 4 tokens share each loaded vector (16 accumulators), or with 8-lane
     * vectors 4 rows × 3 tokens (and 4 × 2 for two left over), then 4 rows × 1 token for the remaining tokens,
     * then single rows. Every output is the same lane-wise FMA chain over the
     * columns in order, the same lane sum and the same scalar tail, whichever block computed it.
     */
    // NOTE: one concrete weight type (a buffer) keeps every vector op inlined; an interface here made C2 box
    // vectors and cost 7x at batch 1.
    private static void mul(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1,
                            boolean accumulate, float[] scratch, boolean threeTokens) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = threeTokens && T >= 2 ? f32Rows4Tokens3(w, cols, x, T, y, yStride, yOff, r, accumulate, scratch) : 0;
            for (; !threeTokens && t + 4 <= T; t += 4) {
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
                sumLanes(scratch, 16);
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 4; k++) {
                        float s = tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[sums + j * 4 + k]);
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
                sumLanes(scratch, 4);
                for (int j = 0; j < 4; j++) {
                    float s = tail(w, r + j, x, x0, upper, cols, scratch[sums + j]);
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
                a0.intoArray(scratch, 0);
                sumLanes(scratch, 1);
                store(y, t * yStride + yOff + r, tail(w, r, x, x0, upper, cols, scratch[sums]), accumulate);
            }
        }
    }

    /**
     * Rows r..r+3, tokens in blocks of 3 while 3 remain; returns the first token left. The block shape for 8-lane
     * vectors: 12 accumulators, 3 activation vectors and the weight vector fill AVX2's 16 registers exactly, where
     * the 4x4 block's 21 live vectors spill. Same FMA chains, lane sums and tail per output as every other block.
     */
    private static int f32Rows4Tokens3(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff,
                                       int r, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        int t = 0;
        int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
        for (; t + 3 <= T; t += 3) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00;
            int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols;
            for (int i = 0; i < upper; i += L) {
                FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                FloatVector w0 = FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE);
                a00 = v0.fma(w0, a00);
                a01 = v1.fma(w0, a01);
                a02 = v2.fma(w0, a02);
                FloatVector w1 = FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE);
                a10 = v0.fma(w1, a10);
                a11 = v1.fma(w1, a11);
                a12 = v2.fma(w1, a12);
                FloatVector w2 = FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE);
                a20 = v0.fma(w2, a20);
                a21 = v1.fma(w2, a21);
                a22 = v2.fma(w2, a22);
                FloatVector w3 = FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE);
                a30 = v0.fma(w3, a30);
                a31 = v1.fma(w3, a31);
                a32 = v2.fma(w3, a32);
            }
            // accumulator (row j, token k) at slot j*3 + k
            a00.intoArray(scratch, 0);
            a01.intoArray(scratch, L);
            a02.intoArray(scratch, 2 * L);
            a10.intoArray(scratch, 3 * L);
            a11.intoArray(scratch, 4 * L);
            a12.intoArray(scratch, 5 * L);
            a20.intoArray(scratch, 6 * L);
            a21.intoArray(scratch, 7 * L);
            a22.intoArray(scratch, 8 * L);
            a30.intoArray(scratch, 9 * L);
            a31.intoArray(scratch, 10 * L);
            a32.intoArray(scratch, 11 * L);
            sumLanes(scratch, 12);
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 3; k++) {
                    float s = tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[sums + j * 3 + k]);
                    store(y, (t + k) * yStride + yOff + r + j, s, accumulate);
                }
            }
        }
        return T - t == 2 ? f32Rows4Tokens2(w, cols, x, t, y, yStride, yOff, r, accumulate, scratch) : t;
    }

    /** Rows r..r+3, tokens t and t+1 (two tokens left over by the 4x3 blocks); returns t + 2. */
    private static int f32Rows4Tokens2(ByteBuffer w, int cols, float[] x, int t, float[] y, int yStride, int yOff,
                                       int r, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int x0 = t * cols, x1 = x0 + cols;
        for (int i = 0; i < upper; i += L) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            FloatVector w0 = FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE);
            a00 = v0.fma(w0, a00);
            a01 = v1.fma(w0, a01);
            FloatVector w1 = FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE);
            a10 = v0.fma(w1, a10);
            a11 = v1.fma(w1, a11);
            FloatVector w2 = FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE);
            a20 = v0.fma(w2, a20);
            a21 = v1.fma(w2, a21);
            FloatVector w3 = FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE);
            a30 = v0.fma(w3, a30);
            a31 = v1.fma(w3, a31);
        }
        a00.intoArray(scratch, 0);
        a01.intoArray(scratch, L);
        a10.intoArray(scratch, 2 * L);
        a11.intoArray(scratch, 3 * L);
        a20.intoArray(scratch, 4 * L);
        a21.intoArray(scratch, 5 * L);
        a30.intoArray(scratch, 6 * L);
        a31.intoArray(scratch, 7 * L);
        sumLanes(scratch, 8);
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 2; k++) {
                float s = tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[sums + j * 2 + k]);
                store(y, (t + k) * yStride + yOff + r + j, s, accumulate);
            }
        }
        return t + 2;
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
        int sums = 16 * L;
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
            sumLanes(scratch, 16);
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 4; k++) {
                    float s = bf16Tail(w, r + j, x, (t + k) * cols, upper, cols, scratch[sums + j * 4 + k]);
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
        int sums = 16 * L;
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
            sumLanes(scratch, 4);
            for (int j = 0; j < 4; j++) {
                float s = bf16Tail(w, r + j, x, x0, upper, cols, scratch[sums + j]);
                store(y, t * yStride + yOff + r + j, s, accumulate);
            }
        }
    }

    /** Rows r0..r1-1 one at a time, every token. */
    private static void bf16Rows1(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0,
                                  int r1, boolean accumulate, float[] scratch) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        for (int r = r0; r < r1; r++) {
            for (int t = 0; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(bf16(w, (r * cols + i) * 2), a0);
                }
                a0.intoArray(scratch, 0);
                sumLanes(scratch, 1);
                store(y, t * yStride + yOff + r, bf16Tail(w, r, x, x0, upper, cols, scratch[sums]), accumulate);
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
        acc.intoArray(scratch, 0);
        sumLanes(scratch, 1);
        float s = scratch[16 * L];
        for (int i = upper; i < n; i++) {
            s = Math.fma(a[aOff + i], b[bOff + i], s);
        }
        return s;
    }

    /**
     * The dots of a[aOff..+n) with b at four offsets, into out[outOff..+4): each exactly {@link #dot} (lane-wise FMAs
     * in order, each one's lanes summed in order, then the scalar tail), but the four lane sums run interleaved.
     */
    static void dot4(float[] a, int aOff, float[] b, int b0, int b1, int b2, int b3, int n, float[] scratch,
                     float[] out, int outOff) {
        int upper = F.loopBound(n);
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int i = 0; i < upper; i += L) {
            FloatVector x = FloatVector.fromArray(F, a, aOff + i);
            acc0 = x.fma(FloatVector.fromArray(F, b, b0 + i), acc0);
            acc1 = x.fma(FloatVector.fromArray(F, b, b1 + i), acc1);
            acc2 = x.fma(FloatVector.fromArray(F, b, b2 + i), acc2);
            acc3 = x.fma(FloatVector.fromArray(F, b, b3 + i), acc3);
        }
        acc0.intoArray(scratch, 0);
        acc1.intoArray(scratch, L);
        acc2.intoArray(scratch, 2 * L);
        acc3.intoArray(scratch, 3 * L);
        sumLanes(scratch, 4);
        float s0 = scratch[16 * L], s1 = scratch[16 * L + 1], s2 = scratch[16 * L + 2], s3 = scratch[16 * L + 3];
        for (int i = upper; i < n; i++) {
            s0 = Math.fma(a[aOff + i], b[b0 + i], s0);
            s1 = Math.fma(a[aOff + i], b[b1 + i], s1);
            s2 = Math.fma(a[aOff + i], b[b2 + i], s2);
            s3 = Math.fma(a[aOff + i], b[b3 + i], s3);
        }
        out[outOff] = s0;
        out[outOff + 1] = s1;
        out[outOff + 2] = s2;
        out[outOff + 3] = s3;
    }

    /**
     * out[oOff..+n) = Σ_j p[j]·v[vOffs[j]..+n) for j = 0..len-1, as element-wise FMAs onto a zeroed out in the order
     * of j: out = fma(p[j], v, out), the vector and the scalar tail alike. Each group of up to 4 vectors of out stays
     * in registers over all j (through memory at every j it ran at the latency of a store and a reload).
     */
    static void weightedSum(float[] p, int len, float[] v, int[] vOffs, float[] out, int oOff, int n) {
        int upper = F.loopBound(n);
        int d = 0;
        for (; d + 4 * L <= upper; d += 4 * L) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < len; j++) {
                FloatVector pv = FloatVector.broadcast(F, p[j]);
                int o = vOffs[j] + d;
                a0 = pv.fma(FloatVector.fromArray(F, v, o), a0);
                a1 = pv.fma(FloatVector.fromArray(F, v, o + L), a1);
                a2 = pv.fma(FloatVector.fromArray(F, v, o + 2 * L), a2);
                a3 = pv.fma(FloatVector.fromArray(F, v, o + 3 * L), a3);
            }
            a0.intoArray(out, oOff + d);
            a1.intoArray(out, oOff + d + L);
            a2.intoArray(out, oOff + d + 2 * L);
            a3.intoArray(out, oOff + d + 3 * L);
        }
        for (; d < upper; d += L) {
            FloatVector a0 = FloatVector.zero(F);
            for (int j = 0; j < len; j++) {
                a0 = FloatVector.broadcast(F, p[j]).fma(FloatVector.fromArray(F, v, vOffs[j] + d), a0);
            }
            a0.intoArray(out, oOff + d);
        }
        for (int i = upper; i < n; i++) {
            float a = 0f;
            for (int j = 0; j < len; j++) {
                a = Math.fma(p[j], v[vOffs[j] + i], a);
            }
            out[oOff + i] = a;
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
