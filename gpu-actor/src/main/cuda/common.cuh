// Helpers shared by Quiver's kernels: weight element conversions and warp/block reductions.
// Every kernel is extern "C" (unmangled names for cuModuleGetFunction) and takes raw pointers plus
// 32-bit ints and floats only, so the host passes a flat argument list (see LaunchPlanner.java).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

// Weight element types on the device (must match WeightType.code on the host).
#define QV_BF16 0
#define QV_F16 1

__device__ __forceinline__ float qv_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float qv_to_float(__half v) { return __half2float(v); }

template <typename T> __device__ __forceinline__ T qv_from_float(float v);
template <> __device__ __forceinline__ __nv_bfloat16 qv_from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ __half qv_from_float<__half>(float v) { return __float2half_rn(v); }

// Element i of a weight array of type `dtype` (QV_BF16 / QV_F16), widened to float.
__device__ __forceinline__ float qv_load_weight(const void* w, size_t i, int dtype) {
    return dtype == QV_BF16 ? __bfloat162float(((const __nv_bfloat16*) w)[i]) : __half2float(((const __half*) w)[i]);
}

// For a kernel whose shared-memory layout or warp-to-work mapping assumes one block size: any other size traps,
// so the step fails at its synchronisation (CUDA_ERROR_ILLEGAL_INSTRUCTION) instead of computing garbage. The
// host checks the same sizes before launching (Kernel.requiredBlock); this guards the kernel itself.
#define QV_REQUIRE_BLOCK(n)         \
    do {                            \
        if (blockDim.x != (n)) {    \
            __trap();               \
        }                           \
    } while (0)

__device__ __forceinline__ float qv_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float qv_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float qv_block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = qv_warp_sum(v);
    __syncthreads();
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    int warps = blockDim.x >> 5;
    float s = lane < warps ? partial[lane] : 0.f;
    return qv_warp_sum(s);
}
