// GPU top-k selection by magnitude (topk_select.h is the CPU side; this gives
// the same set: the exact top-k of |v|, ties toward lower indices, ascending).
//
// Building blocks, all stream-ordered and free of host synchronization:
//   - radix_hist_kernel: one histogram pass over a digit of the 31-bit magnitude
//     key (bits 30..20, 19..9, 8..0) of the keys that match the digits decided
//     so far; the last block to finish picks the bin holding the k-th largest
//     key (the "last block" pattern: no extra launch, no host read). After three
//     passes Radix::prefix is the k-th largest key t and Radix::need the number
//     of keys equal to t to keep (the ties, taken in index order);
//   - tile_count_kernel + scan_kernel: per tile of kTile consecutive items the
//     count of keys above t and equal to t (or >= a threshold), then one
//     exclusive scan of the tiles (packed in a u64: neither half can carry);
//   - the writers (topk.cu) re-read their tile and place each kept item at
//     (keys above t before it) + min(keys equal to t before it, ties): a stable
//     compaction, so the output is in index order and the ties are the first ones.
// A Gate lets the sampled path decide on the device which of its branches runs:
// every kernel of a branch is launched, and those whose gate is closed return at
// once (a few microseconds each), so the host never waits for a count.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "src/common/rng.h"
#include "src/core/device_util.cuh"

namespace gw {
namespace topk_gpu {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kItems = 16;  // per thread and tile: 16 loads in flight per thread
constexpr uint32_t kTile = kThreads * kItems;

__device__ __forceinline__ uint32_t mag(float v) { return __float_as_uint(v) & 0x7fffffffu; }
constexpr uint32_t kNoKey = 0xffffffffu;  // past the end: matches no prefix (keys are 31-bit)

__host__ __device__ constexpr int digit_shift(int pass) { return pass == 0 ? 20 : pass == 1 ? 9 : 0; }
__host__ __device__ constexpr int digit_bins(int pass) { return pass == 2 ? 512 : 2048; }
// Keys match the decided prefix when they agree above the current digit.
__host__ __device__ constexpr int upper_shift(int pass) { return pass == 0 ? 31 : pass == 1 ? 20 : 9; }

struct Radix {
  uint32_t hist[2048];  // zero between passes (the picking block clears it)
  uint32_t prefix;
  uint32_t need;
  uint32_t done;
  uint32_t pad;
};

// Runs when flag is null or *flag == run_when.
struct Gate {
  const int* flag = nullptr;
  int run_when = 0;
  __device__ __forceinline__ bool open() const { return !flag || *flag == run_when; }
};

// Item counts: host-known n, or a device count (at most n).
struct Count {
  size_t n = 0;
  const uint32_t* d = nullptr;
  __device__ __forceinline__ size_t get() const {
    if (!d) return n;
    const size_t c = *d;
    return c < n ? c : n;
  }
};

// Sources: value(i) as float.
struct XSrc {
  const float* x;
  __device__ __forceinline__ float operator()(size_t i) const { return __ldg(x + i); }
};
// Error feedback: selection on g + s / g - s without writing it. s is read with
// plain loads: the writers update it in the same kernel (each element by the
// thread that read it).
struct ResSrc {
  const float* g;
  const float* s;
  __device__ __forceinline__ float operator()(size_t i) const { return __fadd_rn(__ldg(g + i), s[i]); }
};
struct Ef21Src {
  const float* g;
  const float* s;
  __device__ __forceinline__ float operator()(size_t i) const { return __fsub_rn(__ldg(g + i), s[i]); }
};
struct KeySrc {
  const uint32_t* keys;
  __device__ __forceinline__ float operator()(size_t i) const { return __uint_as_float(keys[i]); }
};
// Survivors of the sampled threshold: (value bits, index), in index order.
struct CandSrc {
  const uint2* c;
  __device__ __forceinline__ float operator()(size_t i) const { return __uint_as_float(c[i].x); }
};

template <class Src>
__device__ __forceinline__ void load_keys(const Src& src, size_t base, size_t n, uint32_t (&key)[kItems]) {
#pragma unroll
  for (int r = 0; r < kItems; ++r) {
    const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
    key[r] = i < n ? mag(src(i)) : kNoKey;
  }
}

// The picking step of a pass, by one whole block: the bin, from the top, where
// the count of matching keys reaches `need`.
__device__ inline void radix_pick(Radix* R, int pass, uint32_t k0) {
  __shared__ uint32_t part[kThreads];
  __shared__ uint32_t need_s;
  const int bins = digit_bins(pass), per = bins / kThreads, t = threadIdx.x;
  const uint32_t need = pass == 0 ? k0 : __ldcg(&R->need);
  if (t == 0) need_s = need;  // overwritten below by the one thread that finds the bin
  uint32_t c[2048 / kThreads];
  uint32_t sum = 0;
  for (int j = 0; j < per; ++j) {
    c[j] = __ldcg(&R->hist[bins - 1 - (t * per + j)]);
    sum += c[j];
  }
  part[t] = sum;
  __syncthreads();
  // Exclusive prefix over threads (from the top bin down); 256 entries, simple
  // Hillis-Steele in shared memory.
  for (int off = 1; off < kThreads; off <<= 1) {
    const uint32_t v = t >= off ? part[t - off] : 0u;
    __syncthreads();
    part[t] += v;
    __syncthreads();
  }
  const uint32_t above = part[t] - sum;
  if (above < need && above + sum >= need) {
    uint32_t acc = above;
    for (int j = 0; j < per; ++j) {
      if (acc + c[j] >= need) {
        const uint32_t bin = static_cast<uint32_t>(bins - 1 - (t * per + j));
        const uint32_t prefix = pass == 0 ? 0u : __ldcg(&R->prefix);
        R->prefix = prefix | (bin << digit_shift(pass));
        need_s = need - acc;
        break;
      }
      acc += c[j];
    }
  }
  __syncthreads();
  if (t == 0) {
    R->need = need_s;
    R->done = 0;
  }
  for (int b = t; b < bins; b += kThreads) R->hist[b] = 0;
}

// One histogram pass (see the top of the file). k0: the rank sought (pass 0).
template <class Src>
__global__ void __launch_bounds__(kThreads)
    radix_hist_kernel(Src src, Count count, Radix* R, int pass, uint32_t k0, Gate gate) {
  if (!gate.open()) return;
  __shared__ uint32_t h[2048];
  __shared__ bool last;
  const int shift = digit_shift(pass), bins = digit_bins(pass), up = upper_shift(pass);
  for (int b = threadIdx.x; b < bins; b += kThreads) h[b] = 0;
  const size_t n = count.get();
  const uint32_t want = pass == 0 ? 0u : (R->prefix >> up);
  __syncthreads();
  for (size_t base = static_cast<size_t>(blockIdx.x) * kTile; base < n;
       base += static_cast<size_t>(gridDim.x) * kTile) {
    uint32_t key[kItems];
    load_keys(src, base, n, key);
#pragma unroll
    for (int r = 0; r < kItems; ++r)
      if ((key[r] >> up) == want && key[r] != kNoKey) atomicAdd(&h[(key[r] >> shift) & (bins - 1)], 1u);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < bins; b += kThreads)
    if (h[b]) atomicAdd(&R->hist[b], h[b]);
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&R->done, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  radix_pick(R, pass, k0);
}

// Exclusive block prefix of two flags over the block's threads in thread order,
// and their block totals. sm: kWarps words of shared memory.
__device__ __forceinline__ void block_prefix2(bool a, bool b, uint32_t* sm, uint32_t& pa, uint32_t& pb,
                                              uint32_t& ta, uint32_t& tb) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const uint32_t ba = __ballot_sync(0xffffffffu, a), bb = __ballot_sync(0xffffffffu, b);
  const uint32_t lt = (1u << lane) - 1u;
  if (lane == 0) sm[warp] = (static_cast<uint32_t>(__popc(ba)) << 16) | static_cast<uint32_t>(__popc(bb));
  __syncthreads();
  uint32_t before = 0, total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const uint32_t v = sm[w];
    before += w < warp ? v : 0u;
    total += v;
  }
  __syncthreads();  // sm is reused by the next call
  pa = (before >> 16) + __popc(ba & lt);
  pb = (before & 0xffffu) + __popc(bb & lt);
  ta = total >> 16;
  tb = total & 0xffffu;
}

// The same for a whole tile of kItems rounds of kThreads items (item r of
// thread t is item r*kThreads + t of the tile): all ballots first, one
// shared-memory table of per-(round, warp) counts, two barriers per tile
// instead of two per round. Counts are packed a << 16 | b (a tile has at most
// kTile = 4096 of each). pa/pb: exclusive prefix within the tile; ta/tb: totals.
struct TileScan {
  uint32_t cnt[kItems][kWarps];
};
__device__ __forceinline__ void tile_prefix2(const bool (&a)[kItems], const bool (&b)[kItems], TileScan& sm,
                                             uint32_t (&pa)[kItems], uint32_t (&pb)[kItems], uint32_t& ta,
                                             uint32_t& tb) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const uint32_t lt = (1u << lane) - 1u;
  uint32_t ba[kItems], bb[kItems];
#pragma unroll
  for (int r = 0; r < kItems; ++r) {
    ba[r] = __ballot_sync(0xffffffffu, a[r]);
    bb[r] = __ballot_sync(0xffffffffu, b[r]);
    if (lane == 0) sm.cnt[r][warp] = (static_cast<uint32_t>(__popc(ba[r])) << 16) | __popc(bb[r]);
  }
  __syncthreads();
  uint32_t run = 0;
#pragma unroll
  for (int r = 0; r < kItems; ++r) {
    uint32_t before = 0, row = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const uint32_t v = sm.cnt[r][w];
      before += w < warp ? v : 0u;
      row += v;
    }
    const uint32_t at = run + before;
    pa[r] = (at >> 16) + __popc(ba[r] & lt);
    pb[r] = (at & 0xffffu) + __popc(bb[r] & lt);
    run += row;
  }
  __syncthreads();  // sm is reused by the next tile
  ta = run >> 16;
  tb = run & 0xffffu;
}

// Per tile: (keys > t) << 32 | (keys == t) with t = R->prefix (kGe false), or
// keys >= t in the low half (kGe true: survivors of a sampled threshold).
template <class Src, bool kGe>
__global__ void __launch_bounds__(kThreads)
    tile_count_kernel(Src src, Count count, const Radix* R, uint64_t* tile_counts, uint32_t tiles, Gate gate) {
  if (!gate.open()) return;
  __shared__ uint64_t sm[kWarps];
  const size_t n = count.get();
  const uint32_t t = R->prefix;
  for (uint32_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const size_t base = static_cast<size_t>(tile) * kTile;
    uint32_t gt = 0, eq = 0;
    if (base < n) {
      uint32_t key[kItems];
      load_keys(src, base, n, key);
#pragma unroll
      for (int r = 0; r < kItems; ++r) {
        if (key[r] == kNoKey) continue;
        if (kGe) {
          eq += key[r] >= t;
        } else {
          gt += key[r] > t;
          eq += key[r] == t;
        }
      }
    }
    uint64_t v = (static_cast<uint64_t>(gt) << 32) | eq;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) sm[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      uint64_t s = 0;
      for (int w = 0; w < kWarps; ++w) s += sm[w];
      tile_counts[tile] = s;
    }
    __syncthreads();
  }
}

// Exclusive scan of tile counts by one block of 1024 threads (at most a few
// tens of thousands of tiles: 100M values are 24k tiles); *total = the sum.
constexpr int kScanThreads = 1024;
__global__ void __launch_bounds__(kScanThreads)
    scan_kernel(const uint64_t* in, uint64_t* out, uint32_t tiles, uint64_t* total, Gate gate) {
  if (!gate.open()) return;
  __shared__ uint64_t part[kScanThreads];
  const uint32_t t = threadIdx.x, per = (tiles + kScanThreads - 1) / kScanThreads;
  const uint32_t a = t * per, b = a + per < tiles ? a + per : tiles;
  uint64_t sum = 0;
  for (uint32_t i = a; i < b; ++i) sum += in[i];
  part[t] = sum;
  __syncthreads();
  for (int off = 1; off < kScanThreads; off <<= 1) {
    const uint64_t v = t >= static_cast<uint32_t>(off) ? part[t - off] : 0u;
    __syncthreads();
    part[t] += v;
    __syncthreads();
  }
  uint64_t run = part[t] - sum;
  for (uint32_t i = a; i < b; ++i) {
    const uint64_t c = in[i];
    out[i] = run;
    run += c;
  }
  if (t == kScanThreads - 1) *total = part[t];
}

// Sample keys at DGC's positions: (rng_u32(key, j) * n) >> 32, as the CPU does.
template <class Src>
__global__ void sample_kernel(Src src, size_t n, uint64_t key, size_t m, uint32_t* keys) {
  for (size_t j = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < m;
       j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint64_t pos = (static_cast<uint64_t>(rng_u32(key, static_cast<uint32_t>(j))) * n) >> 32;
    keys[j] = mag(src(static_cast<size_t>(pos)));
  }
}

}  // namespace topk_gpu
}  // namespace gw
