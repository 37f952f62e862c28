package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.model.DTypes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Function;

/**
 * The readable twin of every kernel in {@code src/main/cuda} (house style item 9): plain scalar Java with the
 * same grid mapping and index arithmetic as the .cu code, loop for loop (a kernel's {@code blockIdx} is the
 * outer loop here, its threads the inner one), run on {@link Launch}es against byte buffers named as the
 * device buffers. {@link TwinBackend} runs whole forward plans this way, so the plans, layouts and indexing
 * are checked against the CPU backend on machines without a GPU.
 *
 * <p>Reductions run in plain sequential order, where the kernels reduce across lanes and warps; results agree
 * to float rounding, not bit for bit. The tensor-core kernel's split of activations into a rounded high part
 * and a rounded remainder is reproduced.
 */
public final class KernelTwins {
    private KernelTwins() {
    }

    /** A device pointer as the twins see it: a little-endian buffer and a byte offset into it. */
    record View(ByteBuffer b, long base) {
        float f(long i) {
            return b.getFloat((int) (base + 4 * i));
        }

        void f(long i, float v) {
            b.putFloat((int) (base + 4 * i), v);
        }

        int i(long i) {
            return b.getInt((int) (base + 4 * i));
        }

        void i(long i, int v) {
            b.putInt((int) (base + 4 * i), v);
        }

        long l(long i) {
            return b.getLong((int) (base + 8 * i));
        }

        /** Element i of a 2-byte weight array: code 0 = BF16, 1 = F16 (common.cuh's qv_load_weight). */
        float w(long i, int dtype) {
            short s = b.getShort((int) (base + 2 * i));
            return dtype == WeightType.BF16.code ? DTypes.bf16ToFloat(s) : DTypes.f16ToFloat(s);
        }
    }

    /** Runs one launch; {@code memory} gives the buffer behind each name (little-endian). */
    public static void run(Launch l, Function<String, ByteBuffer> memory) {
        View[] p = new View[l.args().size()];
        for (int i = 0; i < p.length; i++) {
            if (l.args().get(i) instanceof DeviceArg.Ptr ptr && !ptr.isNull()) {
                p[i] = new View(memory.apply(ptr.buffer()).order(ByteOrder.LITTLE_ENDIAN), ptr.offset());
            }
        }
        switch (l.kernel()) {
            case EMBEDDING_GATHER -> embeddingGather(l, p);
            case RMSNORM -> rmsnorm(l, p);
            case ROPE_KV_WRITE -> ropeKvWrite(l, p);
            case SILU_MUL -> siluMul(l, p);
            case ARGMAX_ROWS -> argmaxRows(l, p);
            case PAGED_ATTENTION -> pagedAttention(l, p);
            case MATMUL_MMA_BF16 -> matmulMma(l, p, WeightType.BF16);
            case MATMUL_MMA_F16 -> matmulMma(l, p, WeightType.F16);
            case MATVEC_BF16 -> matvec(l, p, WeightType.BF16);
            case MATVEC_F16 -> matvec(l, p, WeightType.F16);
            case LORA_SHRINK -> loraShrink(l, p);
            case LORA_EXPAND -> loraExpand(l, p);
            default -> throw new IllegalStateException("no twin for " + l.kernel());
        }
    }

    // embedding_gather(tokens, emb, dtype, x, rows, hidden)
    static void embeddingGather(Launch l, View[] p) {
        View tokens = p[0], emb = p[1], x = p[3];
        int dtype = l.i32(2), rows = l.i32(4), hidden = l.i32(5);
        for (int t = 0; t < l.gridX(); t++) {
            if (t >= rows) {
                continue;
            }
            long src = (long) tokens.i(t) * hidden;
            for (int i = 0; i < hidden; i++) {
                x.f((long) t * hidden + i, emb.w(src + i, dtype));
            }
        }
    }

    // rmsnorm(in, rowMap, w, out, rows, hidden, eps)
    static void rmsnorm(Launch l, View[] p) {
        View in = p[0], rowMap = p[1], w = p[2], out = p[3];
        int rows = l.i32(4), hidden = l.i32(5);
        float eps = l.f32(6);
        for (int i = 0; i < l.gridX(); i++) {
            if (i >= rows) {
                continue;
            }
            int r = rowMap != null ? rowMap.i(i) : i;
            long src = (long) r * hidden;
            float ss = 0f;
            for (int j = 0; j < hidden; j++) {
                ss += in.f(src + j) * in.f(src + j);
            }
            float inv = (float) (1.0 / Math.sqrt(ss / (float) hidden + eps));
            for (int j = 0; j < hidden; j++) {
                out.f((long) i * hidden + j, w.f(j) * (in.f(src + j) * inv));
            }
        }
    }

    // rope_kv_write(q, k, v, positions, invFreq, slotMapping, kCache, vCache, rows, heads, kvHeads, headDim)
    static void ropeKvWrite(Launch l, View[] p) {
        View q = p[0], k = p[1], v = p[2], positions = p[3], invFreq = p[4], slotMapping = p[5], kCache = p[6],
                vCache = p[7];
        int rows = l.i32(8), heads = l.i32(9), kvHeads = l.i32(10), headDim = l.i32(11);
        for (int t = 0; t < l.gridX(); t++) {
            if (t >= rows) {
                continue;
            }
            int half = headDim / 2;
            int qDim = heads * headDim;
            int kvDim = kvHeads * headDim;
            float pos = (float) positions.i(t);
            long cacheRow = (long) slotMapping.i(t) * kvDim;
            for (int e = 0; e < (heads + kvHeads) * half; e++) {
                int hh = e / half;
                int i = e % half;
                float angle = pos * invFreq.f(i);
                float co = (float) Math.cos(angle);
                float si = (float) Math.sin(angle);
                if (hh < heads) {
                    long o = (long) t * qDim + (long) hh * headDim;
                    float x1 = q.f(o + i);
                    float x2 = q.f(o + i + half);
                    q.f(o + i, x1 * co - x2 * si);
                    q.f(o + i + half, x2 * co + x1 * si);
                } else {
                    int kh = hh - heads;
                    long o = (long) t * kvDim + (long) kh * headDim;
                    float x1 = k.f(o + i);
                    float x2 = k.f(o + i + half);
                    float r1 = x1 * co - x2 * si;
                    float r2 = x2 * co + x1 * si;
                    k.f(o + i, r1);
                    k.f(o + i + half, r2);
                    kCache.f(cacheRow + (long) kh * headDim + i, r1);
                    kCache.f(cacheRow + (long) kh * headDim + i + half, r2);
                }
            }
            for (int j = 0; j < kvDim; j++) {
                vCache.f(cacheRow + j, v.f((long) t * kvDim + j));
            }
        }
    }

    // silu_mul(gate, up, n)
    static void siluMul(Launch l, View[] p) {
        View gate = p[0], up = p[1];
        int n = l.i32(2);
        for (int blk = 0; blk < l.gridX(); blk++) {
            for (int th = 0; th < l.blockX(); th++) {
                int i = blk * l.blockX() + th;
                if (i < n) {
                    float g = gate.f(i);
                    gate.f(i, g / (1f + (float) Math.exp(-(double) g)) * up.f(i));
                }
            }
        }
    }

    // argmax_rows(logits, ids, n, vocab)
    static void argmaxRows(Launch l, View[] p) {
        View logits = p[0], ids = p[1];
        int n = l.i32(2), vocab = l.i32(3);
        for (int row = 0; row < l.gridX(); row++) {
            if (row >= n) {
                continue;
            }
            float bv = Float.NEGATIVE_INFINITY;
            int bi = Integer.MAX_VALUE;
            for (int j = 0; j < vocab; j++) {
                float v = logits.f((long) row * vocab + j);
                if (v > bv) {
                    bv = v;
                    bi = j;
                }
            }
            ids.i(row, bi == Integer.MAX_VALUE ? 0 : bi);
        }
    }

    static final int ATT_WARPS = 4;

    // paged_attention(q, kCache, vCache, blockTables, tableStart, rowSeq, positions, out,
    //                 rows, heads, kvHeads, headDim, blockSize, scale)
    static void pagedAttention(Launch l, View[] p) {
        View q = p[0], kCache = p[1], vCache = p[2], blockTables = p[3], tableStart = p[4], rowSeq = p[5],
                positions = p[6], out = p[7];
        int rows = l.i32(8), heads = l.i32(9), kvHeads = l.i32(10), headDim = l.i32(11), blockSize = l.i32(12);
        float scale = l.f32(13);
        for (int t = 0; t < l.gridX(); t++) {
            for (int h = 0; h < l.gridY(); h++) {
                if (t >= rows || h >= heads) {
                    continue;
                }
                int kvDim = kvHeads * headDim;
                int g = h / (heads / kvHeads);
                int len = positions.i(t) + 1;
                int table = tableStart.i(rowSeq.i(t));
                long qr = (long) t * heads * headDim + (long) h * headDim;
                float[] m = new float[ATT_WARPS];
                float[] sl = new float[ATT_WARPS];
                float[][] acc = new float[ATT_WARPS][headDim];
                for (int warp = 0; warp < ATT_WARPS; warp++) {
                    float mw = Float.NEGATIVE_INFINITY;
                    float lw = 0f;
                    for (int j = warp; j < len; j += ATT_WARPS) {
                        long base = ((long) blockTables.i(table + j / blockSize) * blockSize + j % blockSize) * kvDim
                                + (long) g * headDim;
                        float dot = 0f;
                        for (int d = 0; d < headDim; d++) {
                            dot += q.f(qr + d) * kCache.f(base + d);
                        }
                        float s = dot * scale;
                        float mNew = Math.max(mw, s);
                        float corr = (float) Math.exp(mw - mNew);
                        float pr = (float) Math.exp(s - mNew);
                        lw = lw * corr + pr;
                        for (int d = 0; d < headDim; d++) {
                            acc[warp][d] = acc[warp][d] * corr + pr * vCache.f(base + d);
                        }
                        mw = mNew;
                    }
                    m[warp] = mw;
                    sl[warp] = lw;
                }
                float mAll = Float.NEGATIVE_INFINITY;
                for (int w = 0; w < ATT_WARPS; w++) {
                    mAll = Math.max(mAll, m[w]);
                }
                float lAll = 0f;
                for (int w = 0; w < ATT_WARPS; w++) {
                    lAll += sl[w] * (float) Math.exp(m[w] - mAll);
                }
                for (int d = 0; d < headDim; d++) {
                    float v = 0f;
                    for (int w = 0; w < ATT_WARPS; w++) {
                        v += acc[w][d] * (float) Math.exp(m[w] - mAll);
                    }
                    out.f(qr + d, v / lAll);
                }
            }
        }
    }

    static final int MMA_BM = 32, MMA_BN = 32, MMA_BK = 16;

    static float round(float v, WeightType t) {
        return t == WeightType.BF16 ? DTypes.bf16ToFloat(DTypes.floatToBf16(v))
                : DTypes.f16ToFloat(DTypes.floatToF16(v));
    }

    // matmul_mma_*(W, x, bias, y, rows, N, K, accumulate): 32×32 output tiles, K in steps of 16, x split into
    // hi = round(x) and lo = round(x − hi)
    static void matmulMma(Launch l, View[] p, WeightType t) {
        View W = p[0], x = p[1], bias = p[2], y = p[3];
        int rows = l.i32(4), N = l.i32(5), K = l.i32(6);
        boolean accumulate = l.i32(7) != 0;
        int dtype = t.code;
        for (int by = 0; by < l.gridY(); by++) {
            for (int bx = 0; bx < l.gridX(); bx++) {
                int n0 = bx * MMA_BN;
                int m0 = by * MMA_BM;
                float[] c = new float[MMA_BM * MMA_BN];
                for (int k0 = 0; k0 < K; k0 += MMA_BK) {
                    for (int r = 0; r < MMA_BM; r++) {
                        for (int col = 0; col < MMA_BN; col++) {
                            int m = m0 + r;
                            int n = n0 + col;
                            float sum = 0f;
                            for (int kk = 0; kk < MMA_BK; kk++) {
                                int k = k0 + kk;
                                float xv = (m < rows && k < K) ? x.f((long) m * K + k) : 0f;
                                float hi = round(xv, t);
                                float lo = round(xv - hi, t);
                                float wv = (n < N && k < K) ? W.w((long) n * K + k, dtype) : 0f;
                                sum += lo * wv + hi * wv;
                            }
                            c[r * MMA_BN + col] += sum;
                        }
                    }
                }
                for (int e = 0; e < MMA_BM * MMA_BN; e++) {
                    int m = m0 + e / MMA_BN;
                    int n = n0 + e % MMA_BN;
                    if (m < rows && n < N) {
                        store(y, bias, (long) m * N + n, n, c[e], accumulate);
                    }
                }
            }
        }
    }

    static final int MATVEC_MAX_ROWS = LaunchPlanner.MATVEC_MAX_ROWS;

    // matvec_*(W, x, bias, y, rows, N, K, accumulate): one warp per output feature n, for rows <= 8
    static void matvec(Launch l, View[] p, WeightType t) {
        View W = p[0], x = p[1], bias = p[2], y = p[3];
        int rows = l.i32(4), N = l.i32(5), K = l.i32(6);
        boolean accumulate = l.i32(7) != 0;
        int warps = l.blockX() / 32;
        for (int blk = 0; blk < l.gridX(); blk++) {
            for (int warp = 0; warp < warps; warp++) {
                int n = blk * warps + warp;
                if (n >= N) {
                    continue;
                }
                float[] acc = new float[MATVEC_MAX_ROWS];
                for (int k = 0; k < K; k++) {
                    float wk = W.w((long) n * K + k, t.code);
                    for (int r = 0; r < MATVEC_MAX_ROWS; r++) {
                        if (r < rows) {
                            acc[r] += wk * x.f((long) r * K + k);
                        }
                    }
                }
                for (int r = 0; r < rows && r < MATVEC_MAX_ROWS; r++) {
                    store(y, bias, (long) r * N + n, n, acc[r], accumulate);
                }
            }
        }
    }

    private static void store(View y, View bias, long o, int n, float acc, boolean accumulate) {
        float v = acc;
        if (bias != null) {
            v += bias.f(n);
        }
        y.f(o, accumulate ? y.f(o) + v : v);
    }

    static final int LORA_SHRINK_WARPS = LaunchPlanner.LORA_SHRINK_WARPS;

    // lora_shrink(x, slots, aOffset, rank, segStart, segSlot, sortedRows, tmp, numSegments, K, maxRank)
    static void loraShrink(Launch l, View[] p) {
        View x = p[0], slots = p[1], aOffset = p[2], rank = p[3], segStart = p[4], segSlot = p[5],
                sortedRows = p[6], tmp = p[7];
        int numSegments = l.i32(8), K = l.i32(9), maxRank = l.i32(10);
        for (int g = 0; g < l.gridX(); g++) {
            for (int by = 0; by < l.gridY(); by++) {
                for (int warp = 0; warp < l.blockX() / 32; warp++) {
                    if (g >= numSegments) {
                        continue;
                    }
                    int s = segSlot.i(g);
                    long at = aOffset.l(s);
                    int r = by * LORA_SHRINK_WARPS + warp;
                    if (at < 0 || r >= rank.i(s)) {
                        continue;
                    }
                    long a = at + (long) r * K;
                    for (int i = segStart.i(g); i < segStart.i(g + 1); i++) {
                        long xr = (long) sortedRows.i(i) * K;
                        float d = 0f;
                        for (int k = 0; k < K; k++) {
                            d += slots.f(a + k) * x.f(xr + k);
                        }
                        tmp.f((long) i * maxRank + r, d);
                    }
                }
            }
        }
    }

    // lora_expand(tmp, slots, bOffset, rank, scale, segStart, segSlot, sortedRows, y, numSegments, N, maxRank)
    static void loraExpand(Launch l, View[] p) {
        View tmp = p[0], slots = p[1], bOffset = p[2], rank = p[3], scale = p[4], segStart = p[5], segSlot = p[6],
                sortedRows = p[7], y = p[8];
        int numSegments = l.i32(9), N = l.i32(10), maxRank = l.i32(11);
        for (int g = 0; g < l.gridX(); g++) {
            for (int by = 0; by < l.gridY(); by++) {
                for (int th = 0; th < l.blockX(); th++) {
                    int o = by * l.blockX() + th;
                    if (g >= numSegments || o >= N) {
                        continue;
                    }
                    int s = segSlot.i(g);
                    long at = bOffset.l(s);
                    if (at < 0) {
                        continue;
                    }
                    int rk = rank.i(s);
                    float sc = scale.f(s);
                    long b = at + (long) o * rk;
                    for (int i = segStart.i(g); i < segStart.i(g + 1); i++) {
                        long t = (long) i * maxRank;
                        float acc = 0f;
                        for (int r = 0; r < rk; r++) {
                            acc += slots.f(b + r) * tmp.f(t + r);
                        }
                        long yo = (long) sortedRows.i(i) * N + o;
                        y.f(yo, y.f(yo) + sc * acc);
                    }
                }
            }
        }
    }
}
