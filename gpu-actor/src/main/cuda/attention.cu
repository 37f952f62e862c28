// Paged causal attention with grouped-query heads, for decode rows and chunked-prefill rows alike.
#include "common.cuh"

#define QV_ATT_WARPS 4
#define QV_ATT_MAX_HEAD_DIM 256
#define QV_ATT_DIMS_PER_LANE (QV_ATT_MAX_HEAD_DIM / 32)

// paged_attention: out[t, h, :] = softmax_j(q[t, h, :] · K_j · scale) · V_j over j = 0 .. positions[t] of
// row t's sequence s = rowSeq[t], where K_j and V_j for kv head g = h / (heads / kvHeads) are read from
//   cache[(blockTables[tableStart[s] + j / blockSize] * blockSize + j % blockSize) * kvDim + g * headDim + d].
// The rows' own K/V are already in the cache (rope_kv_write runs first), so a prefill chunk attends to itself
// causally and to every earlier chunk.
//   q, out [rows, heads * headDim] f32; kCache, vCache: this layer's [numBlocks * blockSize, kvDim] f32;
//   blockTables: every sequence's table concatenated, tableStart [seqs] where each begins; rowSeq, positions
//   [rows] int32. headDim <= 256.
//   grid (rows, heads), block 128: each of the 4 warps takes keys j ≡ warp (mod 4) with an online softmax
//   (running max m, sum l, weighted sum acc; lane holds dims lane, lane + 32, ...), then the warps merge.
extern "C" __global__ void paged_attention(const float* __restrict__ q, const float* __restrict__ kCache,
                                           const float* __restrict__ vCache, const int* __restrict__ blockTables,
                                           const int* __restrict__ tableStart, const int* __restrict__ rowSeq,
                                           const int* __restrict__ positions, float* __restrict__ out, int rows,
                                           int heads, int kvHeads, int headDim, int blockSize, float scale) {
    __shared__ float sM[QV_ATT_WARPS];
    __shared__ float sL[QV_ATT_WARPS];
    __shared__ float sAcc[QV_ATT_WARPS][QV_ATT_MAX_HEAD_DIM];
    QV_REQUIRE_BLOCK(QV_ATT_WARPS * 32);
    int t = blockIdx.x;
    int h = blockIdx.y;
    if (t >= rows || h >= heads) {
        return;
    }
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int kvDim = kvHeads * headDim;
    int g = h / (heads / kvHeads);
    int len = positions[t] + 1;
    const int* table = blockTables + tableStart[rowSeq[t]];
    const float* qr = q + (size_t) t * heads * headDim + h * headDim;

    float qv[QV_ATT_DIMS_PER_LANE];
    float acc[QV_ATT_DIMS_PER_LANE];
#pragma unroll
    for (int i = 0; i < QV_ATT_DIMS_PER_LANE; i++) {
        int d = lane + 32 * i;
        qv[i] = d < headDim ? qr[d] : 0.f;
        acc[i] = 0.f;
    }
    float m = -INFINITY;
    float l = 0.f;
    for (int j = warp; j < len; j += QV_ATT_WARPS) {
        size_t base = ((size_t) table[j / blockSize] * blockSize + j % blockSize) * kvDim + g * headDim;
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < QV_ATT_DIMS_PER_LANE; i++) {
            int d = lane + 32 * i;
            if (d < headDim) {
                dot += qv[i] * kCache[base + d];
            }
        }
        float s = qv_warp_sum(dot) * scale;
        float mNew = fmaxf(m, s);
        float corr = expf(m - mNew);
        float p = expf(s - mNew);
        l = l * corr + p;
#pragma unroll
        for (int i = 0; i < QV_ATT_DIMS_PER_LANE; i++) {
            int d = lane + 32 * i;
            acc[i] = acc[i] * corr + (d < headDim ? p * vCache[base + d] : 0.f);
        }
        m = mNew;
    }
    if (lane == 0) {
        sM[warp] = m;
        sL[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < QV_ATT_DIMS_PER_LANE; i++) {
        int d = lane + 32 * i;
        if (d < headDim) {
            sAcc[warp][d] = acc[i];
        }
    }
    __syncthreads();
    // merge: M = max_w m_w, L = Σ_w l_w·e^(m_w − M), out = Σ_w acc_w·e^(m_w − M) / L (a warp with no keys
    // has m = −inf and contributes 0; len >= 1, so M is finite)
    float mAll = -INFINITY;
    for (int w = 0; w < QV_ATT_WARPS; w++) {
        mAll = fmaxf(mAll, sM[w]);
    }
    float lAll = 0.f;
    for (int w = 0; w < QV_ATT_WARPS; w++) {
        lAll += sL[w] * expf(sM[w] - mAll);
    }
    float* o = out + (size_t) t * heads * headDim + h * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float v = 0.f;
        for (int w = 0; w < QV_ATT_WARPS; w++) {
            v += sAcc[w][d] * expf(sM[w] - mAll);
        }
        o[d] = v / lAll;
    }
}
