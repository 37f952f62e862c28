// Projections y = x · Wᵀ (+ bias) with W in BF16/F16 and float32 activations and accumulators.
// Two paths, chosen per launch by the host (LaunchPlanner): a tensor-core tile kernel for prefill-sized row
// counts, and a bandwidth-oriented warp-per-output kernel for small decode batches.
#include "common.cuh"
#include <mma.h>

using namespace nvcuda;

#define QV_MMA_BM 32
#define QV_MMA_BN 32
#define QV_MMA_BK 16
#define QV_MATVEC_MAX_ROWS 8

// y[m, n] = Σ_k W[n, k] · x[m, k] (+ bias[n]); y[m, n] += that instead when accumulate != 0 (the residual
// add of the o and down projections, fused here to save a pass over the activations).
//   W [N, K] row-major (as stored: out features × in features); x [rows, K] f32; bias [N] f32 or null;
//   y [rows, N] f32.
// Tensor-core path (WMMA 16×16×16, FP32 accumulate): grid (ceil(N / 32), ceil(rows / 32)), block 128; each of
// the 4 warps owns a 16×16 piece of the block's 32×32 output tile. Tiles of x and W pass through shared memory
// with zero padding, so any rows, N and K are valid.
// NOTE: x is split into hi = round(x) and lo = round(x − hi) in the weight type and both are multiplied
// (two MMAs per step), so activations keep ~16 significant bits instead of 8: prefill logits then agree
// with the CPU backend (float activations) to far better than bf16 rounding, at twice the MMA work.
template <typename T>
__device__ __forceinline__ void qv_matmul_mma(const T* __restrict__ W, const float* __restrict__ x,
                                              const float* __restrict__ bias, float* __restrict__ y, int rows,
                                              int N, int K, int accumulate) {
    __shared__ __align__(32) T sXh[QV_MMA_BM * QV_MMA_BK];
    __shared__ __align__(32) T sXl[QV_MMA_BM * QV_MMA_BK];
    __shared__ __align__(32) T sW[QV_MMA_BN * QV_MMA_BK];
    __shared__ __align__(32) float sC[QV_MMA_BM * QV_MMA_BN];
    QV_REQUIRE_BLOCK(128); // 4 warps, one 16×16 piece of the 32×32 tile each
    int n0 = blockIdx.x * QV_MMA_BN;
    int m0 = blockIdx.y * QV_MMA_BM;
    int warp = threadIdx.x >> 5;
    int wm = warp / 2;
    int wn = warp % 2;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.f);
    for (int k0 = 0; k0 < K; k0 += QV_MMA_BK) {
        for (int e = threadIdx.x; e < QV_MMA_BM * QV_MMA_BK; e += blockDim.x) {
            int r = e / QV_MMA_BK;
            int c = e % QV_MMA_BK;
            int k = k0 + c;
            int m = m0 + r;
            float v = (m < rows && k < K) ? x[(size_t) m * K + k] : 0.f;
            T hi = qv_from_float<T>(v);
            sXh[e] = hi;
            sXl[e] = qv_from_float<T>(v - qv_to_float(hi));
            int n = n0 + r;
            sW[e] = (n < N && k < K) ? W[(size_t) n * K + k] : qv_from_float<T>(0.f);
        }
        __syncthreads();
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> aHi;
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> aLo;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
        wmma::load_matrix_sync(aHi, sXh + wm * 16 * QV_MMA_BK, QV_MMA_BK);
        wmma::load_matrix_sync(aLo, sXl + wm * 16 * QV_MMA_BK, QV_MMA_BK);
        // B = Wᵀ: element (k, n) is sW[n * BK + k], i.e. column-major with leading dimension BK
        wmma::load_matrix_sync(b, sW + wn * 16 * QV_MMA_BK, QV_MMA_BK);
        wmma::mma_sync(acc, aLo, b, acc);
        wmma::mma_sync(acc, aHi, b, acc);
        __syncthreads();
    }
    wmma::store_matrix_sync(sC + wm * 16 * QV_MMA_BN + wn * 16, acc, QV_MMA_BN, wmma::mem_row_major);
    __syncthreads();
    for (int e = threadIdx.x; e < QV_MMA_BM * QV_MMA_BN; e += blockDim.x) {
        int m = m0 + e / QV_MMA_BN;
        int n = n0 + e % QV_MMA_BN;
        if (m < rows && n < N) {
            float v = sC[e];
            if (bias != nullptr) {
                v += bias[n];
            }
            size_t o = (size_t) m * N + n;
            y[o] = accumulate ? y[o] + v : v;
        }
    }
}

extern "C" __global__ void matmul_mma_bf16(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                           const float* __restrict__ bias, float* __restrict__ y, int rows, int N,
                                           int K, int accumulate) {
    qv_matmul_mma<__nv_bfloat16>(W, x, bias, y, rows, N, K, accumulate);
}

extern "C" __global__ void matmul_mma_f16(const __half* __restrict__ W, const float* __restrict__ x,
                                          const float* __restrict__ bias, float* __restrict__ y, int rows, int N,
                                          int K, int accumulate) {
    qv_matmul_mma<__half>(W, x, bias, y, rows, N, K, accumulate);
}

// Decode path, same contract as above for rows <= 8: one warp per output feature n reads W's row n once
// (16-byte loads when K % 8 == 0) and applies it to every row, so the weights stream through once per step.
//   grid (ceil(N / 8)), block 256 (8 warps).
template <typename T>
__device__ __forceinline__ void qv_matvec(const T* __restrict__ W, const float* __restrict__ x,
                                          const float* __restrict__ bias, float* __restrict__ y, int rows, int N,
                                          int K, int accumulate) {
    int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (n >= N) {
        return;
    }
    float acc[QV_MATVEC_MAX_ROWS];
#pragma unroll
    for (int r = 0; r < QV_MATVEC_MAX_ROWS; r++) {
        acc[r] = 0.f;
    }
    const T* w = W + (size_t) n * K;
    if ((K & 7) == 0) {
        for (int k = lane * 8; k < K; k += 32 * 8) {
            uint4 raw = *reinterpret_cast<const uint4*>(w + k);
            const T* wv = reinterpret_cast<const T*>(&raw);
#pragma unroll
            for (int r = 0; r < QV_MATVEC_MAX_ROWS; r++) {
                if (r < rows) {
                    const float4* xr = reinterpret_cast<const float4*>(x + (size_t) r * K + k);
                    float4 a = xr[0];
                    float4 b = xr[1];
                    acc[r] += qv_to_float(wv[0]) * a.x + qv_to_float(wv[1]) * a.y + qv_to_float(wv[2]) * a.z
                            + qv_to_float(wv[3]) * a.w + qv_to_float(wv[4]) * b.x + qv_to_float(wv[5]) * b.y
                            + qv_to_float(wv[6]) * b.z + qv_to_float(wv[7]) * b.w;
                }
            }
        }
    } else {
        for (int k = lane; k < K; k += 32) {
            float wk = qv_to_float(w[k]);
#pragma unroll
            for (int r = 0; r < QV_MATVEC_MAX_ROWS; r++) {
                if (r < rows) {
                    acc[r] += wk * x[(size_t) r * K + k];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < QV_MATVEC_MAX_ROWS; r++) {
        acc[r] = qv_warp_sum(acc[r]);
    }
    if (lane == 0) {
        for (int r = 0; r < rows && r < QV_MATVEC_MAX_ROWS; r++) {
            float v = acc[r];
            if (bias != nullptr) {
                v += bias[n];
            }
            size_t o = (size_t) r * N + n;
            y[o] = accumulate ? y[o] + v : v;
        }
    }
}

extern "C" __global__ void matvec_bf16(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                       const float* __restrict__ bias, float* __restrict__ y, int rows, int N, int K,
                                       int accumulate) {
    qv_matvec<__nv_bfloat16>(W, x, bias, y, rows, N, K, accumulate);
}

extern "C" __global__ void matvec_f16(const __half* __restrict__ W, const float* __restrict__ x,
                                      const float* __restrict__ bias, float* __restrict__ y, int rows, int N, int K,
                                      int accumulate) {
    qv_matvec<__half>(W, x, bias, y, rows, N, K, accumulate);
}
