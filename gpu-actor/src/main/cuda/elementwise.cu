// Row-wise kernels of the Llama forward pass: embedding gather, RMSNorm, RoPE fused with the KV-cache
// write, SiLU·mul, and argmax over logits. Activations are float32, row-major [rows, dim].
#include "common.cuh"

// embedding_gather: x[t, :] = float(emb[tokens[t], :]) for t < rows.
//   tokens [rows] int32 (checked < vocab on the host); emb [vocab, hidden] of `dtype`; x [rows, hidden] f32.
//   grid (rows), block 256.
extern "C" __global__ void embedding_gather(const int* __restrict__ tokens, const void* __restrict__ emb, int dtype,
                                            float* __restrict__ x, int rows, int hidden) {
    int t = blockIdx.x;
    if (t >= rows) {
        return;
    }
    size_t src = (size_t) tokens[t] * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        x[(size_t) t * hidden + i] = qv_load_weight(emb, src + i, dtype);
    }
}

// rmsnorm: out[i, :] = w ⊙ in[r, :] · 1/sqrt(mean(in[r, :]²) + eps), r = rowMap[i] (or i when rowMap is null).
//   in [*, hidden] f32; rowMap [rows] int32 or null (the final norm gathers the logit rows this way);
//   w [hidden] f32; out [rows, hidden] f32. grid (rows), block 256.
extern "C" __global__ void rmsnorm(const float* __restrict__ in, const int* __restrict__ rowMap,
                                   const float* __restrict__ w, float* __restrict__ out, int rows, int hidden,
                                   float eps) {
    int i = blockIdx.x;
    if (i >= rows) {
        return;
    }
    int r = rowMap != nullptr ? rowMap[i] : i;
    const float* src = in + (size_t) r * hidden;
    float ss = 0.f;
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        ss += src[j] * src[j];
    }
    ss = qv_block_sum(ss);
    // as the CPU backend: mean in float, the inverse square root in double, rounded once
    float inv = (float) (1.0 / sqrt((double) (ss / (float) hidden + eps)));
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        out[(size_t) i * hidden + j] = w[j] * (src[j] * inv);
    }
}

// rope_kv_write: rotary embedding in the HF rotate-half layout on q and k (in place), then k and v rows
// copied into the paged cache at slotMapping[t] (= block * blockSize + offset).
//   q [rows, heads * headDim], k and v [rows, kvHeads * headDim] f32; positions, slotMapping [rows] int32;
//   invFreq [headDim / 2] f32 (llama3 / linear scaling already applied on the host);
//   kCache, vCache: this layer's [numBlocks * blockSize, kvHeads * headDim] f32.
//   For pair i of a head at offset o: x1 = v[o+i], x2 = v[o+i+half]; v[o+i] = x1·cos − x2·sin,
//   v[o+i+half] = x2·cos + x1·sin, angle = position · invFreq[i]. grid (rows), block 128.
extern "C" __global__ void rope_kv_write(float* __restrict__ q, float* __restrict__ k, const float* __restrict__ v,
                                         const int* __restrict__ positions, const float* __restrict__ invFreq,
                                         const int* __restrict__ slotMapping, float* __restrict__ kCache,
                                         float* __restrict__ vCache, int rows, int heads, int kvHeads, int headDim) {
    int t = blockIdx.x;
    if (t >= rows) {
        return;
    }
    int half = headDim / 2;
    int qDim = heads * headDim;
    int kvDim = kvHeads * headDim;
    float pos = (float) positions[t];
    size_t cacheRow = (size_t) slotMapping[t] * kvDim;
    for (int e = threadIdx.x; e < (heads + kvHeads) * half; e += blockDim.x) {
        int hh = e / half;
        int i = e % half;
        float angle = pos * invFreq[i];
        // cos/sin in double, rounded once, as the CPU backend does
        float co = (float) cos((double) angle);
        float si = (float) sin((double) angle);
        if (hh < heads) {
            float* p = q + (size_t) t * qDim + hh * headDim;
            float x1 = p[i];
            float x2 = p[i + half];
            p[i] = x1 * co - x2 * si;
            p[i + half] = x2 * co + x1 * si;
        } else {
            int kh = hh - heads;
            float* p = k + (size_t) t * kvDim + kh * headDim;
            float x1 = p[i];
            float x2 = p[i + half];
            float r1 = x1 * co - x2 * si;
            float r2 = x2 * co + x1 * si;
            p[i] = r1;
            p[i + half] = r2;
            kCache[cacheRow + kh * headDim + i] = r1;
            kCache[cacheRow + kh * headDim + i + half] = r2;
        }
    }
    for (int j = threadIdx.x; j < kvDim; j += blockDim.x) {
        vCache[cacheRow + j] = v[(size_t) t * kvDim + j];
    }
}

// silu_mul: gate[i] = silu(gate[i]) · up[i] = gate[i] / (1 + exp(−gate[i])) · up[i], for i < n.
//   gate, up [rows, intermediate] f32 flattened to n elements. grid (ceil(n / 256)), block 256.
extern "C" __global__ void silu_mul(float* __restrict__ gate, const float* __restrict__ up, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float g = gate[i];
        gate[i] = g / (1.f + (float) exp(-(double) g)) * up[i];
    }
}

// argmax_rows: ids[i] = the index of the largest of logits[i, :], ties broken by the lowest index (as the
// host sampler's greedy pick). logits [n, vocab] f32; ids [n] int32. grid (n), block 256.
extern "C" __global__ void argmax_rows(const float* __restrict__ logits, int* __restrict__ ids, int n, int vocab) {
    __shared__ float bestV[256];
    __shared__ int bestI[256];
    QV_REQUIRE_BLOCK(256);
    int row = blockIdx.x;
    if (row >= n) {
        return;
    }
    const float* l = logits + (size_t) row * vocab;
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
        float v = l[j];
        if (v > bv) {
            bv = v;
            bi = j;
        }
    }
    bestV[threadIdx.x] = bv;
    bestI[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            float ov = bestV[threadIdx.x + s];
            int oi = bestI[threadIdx.x + s];
            if (ov > bestV[threadIdx.x] || (ov == bestV[threadIdx.x] && oi < bestI[threadIdx.x])) {
                bestV[threadIdx.x] = ov;
                bestI[threadIdx.x] = oi;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        ids[row] = bestI[0] == 0x7fffffff ? 0 : bestI[0];
    }
}
