// Heterogeneous LoRA (SGMV-style): the batch's rows are grouped into segments by adapter slot on the host
// (LoraSegments.java); each kernel block works on one segment, so rows of one adapter share its A/B reads.
// Ranks differ per slot. Every slot's A and B matrices live in one allocation `slots`; the host keeps a table
// per (layer, module) of where each slot's matrix begins in it, in floats, or −1 when the slot's adapter does
// not target that module (its segments are then skipped). A and B stay float32 on the device: they are small,
// and the CPU reference uses float32 adapters.
#include "common.cuh"

#define QV_LORA_SHRINK_WARPS 8

// lora_shrink: tmp[i, r] = Σ_k A_s[r, k] · x[sortedRows[i], k] for r < rank[s], for every sorted row i of
// segment g (segStart[g] <= i < segStart[g + 1]) with slot s = segSlot[g].
//   x [*, K] f32; slots: every slot's matrices, f32; aOffset [numSlots] int64: where slot s's A for this layer
//   and module ([rank, K] f32) begins in slots, or −1;
//   rank [numSlots] int32; segStart [numSegments + 1], segSlot [numSegments], sortedRows [segStart[G]] int32;
//   tmp [sortedRows, maxRank] f32.
//   grid (numSegments, ceil(maxRank / 8)), block 256: warp w of block (g, y) computes rank index y·8 + w.
extern "C" __global__ void lora_shrink(const float* __restrict__ x, const float* __restrict__ slots,
                                       const long long* __restrict__ aOffset,
                                       const int* __restrict__ rank, const int* __restrict__ segStart,
                                       const int* __restrict__ segSlot, const int* __restrict__ sortedRows,
                                       float* __restrict__ tmp, int numSegments, int K, int maxRank) {
    QV_REQUIRE_BLOCK(QV_LORA_SHRINK_WARPS * 32);
    int g = blockIdx.x;
    if (g >= numSegments) {
        return;
    }
    int s = segSlot[g];
    long long at = aOffset[s];
    int r = blockIdx.y * QV_LORA_SHRINK_WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (at < 0 || r >= rank[s]) {
        return;
    }
    const float* a = slots + at + (size_t) r * K;
    for (int i = segStart[g]; i < segStart[g + 1]; i++) {
        const float* xr = x + (size_t) sortedRows[i] * K;
        float d = 0.f;
        for (int k = lane; k < K; k += 32) {
            d += a[k] * xr[k];
        }
        d = qv_warp_sum(d);
        if (lane == 0) {
            tmp[(size_t) i * maxRank + r] = d;
        }
    }
}

// lora_expand: y[sortedRows[i], o] += scale[s] · Σ_{r < rank[s]} B_s[o, r] · tmp[i, r] for o < N, for every
// sorted row i of segment g with slot s = segSlot[g].
//   tmp [sortedRows, maxRank] f32 (from lora_shrink); bOffset [numSlots] int64: where slot s's B ([N, rank]
//   f32) begins in slots, or −1;
//   rank [numSlots] int32, scale [numSlots] f32; y [*, N] f32.
//   grid (numSegments, ceil(N / 256)), block 256: one thread per output feature o.
extern "C" __global__ void lora_expand(const float* __restrict__ tmp, const float* __restrict__ slots,
                                       const long long* __restrict__ bOffset,
                                       const int* __restrict__ rank, const float* __restrict__ scale,
                                       const int* __restrict__ segStart, const int* __restrict__ segSlot,
                                       const int* __restrict__ sortedRows, float* __restrict__ y, int numSegments,
                                       int N, int maxRank) {
    int g = blockIdx.x;
    int o = blockIdx.y * blockDim.x + threadIdx.x;
    if (g >= numSegments || o >= N) {
        return;
    }
    int s = segSlot[g];
    long long at = bOffset[s];
    if (at < 0) {
        return;
    }
    int rk = rank[s];
    float sc = scale[s];
    const float* b = slots + at + (size_t) o * rk;
    for (int i = segStart[g]; i < segStart[g + 1]; i++) {
        const float* t = tmp + (size_t) i * maxRank;
        float acc = 0.f;
        for (int r = 0; r < rk; r++) {
            acc += b[r] * t[r];
        }
        y[(size_t) sortedRows[i] * N + o] += sc * acc;
    }
}
