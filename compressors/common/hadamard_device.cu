// The device RHT (hadamard_device.h): the CPU's arithmetic, block for block.
//
// What makes the bits equal: hadamard.cpp's transform of a block is the plain
// sequence of radix-2 levels in increasing stride, each butterfly (a, b) ->
// (a + b, a - b) in float, then one product by block_scale(len); its radix-4
// passes and L1 sub-blocks only regroup those levels. Any schedule that runs
// the same levels in the same order computes the same floats, so the kernels
// below regroup them for the GPU (explicit round-to-nearest adds, no
// contraction). Signs are sign-bit flips (exact), before the levels in rotate
// and after the scaling in unrotate, as on the CPU.
//
// Whole 16 Ki blocks (the bulk): one CUDA block of 512 threads per block, the
// block in 64 KiB of shared memory, values in registers for their levels, 16
// at a time (so that three CUDA blocks share an SM: one block's loads and
// stores overlap the others' butterflies). Bits b0..b13 of a value's index in
// the block; the levels in four steps, each twice over half the block:
//   P1  load: chunks of 4 values at 4t + 2048k (thread t, k = 0..7, four at a
//       time), coalesced 16-byte loads; levels b0, b1 in registers.
//   P2  levels b2..b5: a thread holds the 16 values that differ in those bits.
//   P3  levels b6..b9.
//   P4  levels b10..b13, the scale, and the store: lanes hold b0..b4, so each
//       store instruction of a warp writes 128 consecutive bytes.
// P2 and P3 work in place (a thread rewrites only the words it read), so three
// barriers in all. Shared memory is swizzled (index bits 2-4 XOR bits 6-8):
// every step's accesses are free of bank conflicts, and P1's chunks stay 16
// contiguous bytes.
// The remainder blocks (under 16 Ki values in all) take a simple kernel, one
// level per barrier. P1..P3 live in hadamard_block.cuh, shared with eden's
// fused encode (compressors/eden/eden.cu), which ends P4 in shared memory.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "compressors/common/hadamard.h"
#include "compressors/common/hadamard_block.cuh"
#include "compressors/common/hadamard_device.h"
#include "src/common/rng.h"
#include "src/core/device_util.cuh"

namespace gw {
namespace hadamard {
namespace {

using blk::butterfly;
using blk::flip;
using blk::levels16;
using blk::swz;

constexpr int kThreads = blk::kBlockThreads;  // per 16 Ki block: 32 values per thread
constexpr int kMinBlocks = 3;                 // 3 x 64 KiB of shared memory per SM
constexpr int kSmallThreads = 256;
constexpr int kLevels = 14;  // log2(kMaxBlock)
static_assert(size_t(1) << kLevels == kMaxBlock, "");

// block_scale(2^k) for the remainder blocks, filled on the host (the CPU's float).
struct Scales {
  float of_log2[kLevels + 1];
};

// Steps P1..P3 are compressors/common/hadamard_block.cuh's (shared with eden's
// fused encode); P4 here ends in global memory.
template <bool ROTATE, bool VEC>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    full_blocks_kernel(const float* in, float* out, uint64_t key, float scale) {
  extern __shared__ float4 smem4[];
  float* sm = reinterpret_cast<float*>(smem4);
  const uint32_t lane = threadIdx.x & 31u;
  const size_t first = static_cast<size_t>(blockIdx.x) * kMaxBlock;
  float* dst = out + first;
  // The sign word of element first + e is rng_u32(key, word0 + (e >> 5)) (first
  // is a multiple of 32; counters are taken mod 2^32, as on the CPU).
  const uint32_t word0 = static_cast<uint32_t>(first >> 5);
  blk::p1_to_p3<ROTATE, VEC>(in + first, sm, key, word0);
  // P4: levels b10..b13, the scale, signs when unrotating, coalesced stores
  // (lanes hold b0..b4: each store instruction of a warp writes 128 consecutive
  // bytes). The halves stay a loop (unroll 1), as P1's.
#pragma unroll 1
  for (uint32_t half = 0; half < 2; ++half) {
    const uint32_t base = blk::p4_base(half);
    float r[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) r[j] = sm[swz(base | (static_cast<uint32_t>(j) << 10))];
    levels16(r);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const uint32_t e = base | (static_cast<uint32_t>(j) << 10);
      float x = __fmul_rn(r[j], scale);
      if (!ROTATE) x = flip(x, rng_u32(key, word0 + (e >> 5)), lane);
      __stcs(dst + e, x);
    }
  }
}

// The remainder's power-of-two blocks, one CUDA block each, in for_each_block's
// order: CUDA block r takes the r-th set bit of `rest` from the top.
template <bool ROTATE>
__global__ void __launch_bounds__(kSmallThreads)
    small_blocks_kernel(const float* in, float* out, size_t at, uint32_t rest, uint64_t key, Scales scales) {
  __shared__ float sm[kMaxBlock / 2];
  uint32_t first = 0, len = 0;
  int skip = static_cast<int>(blockIdx.x), lg = kLevels - 1;
  for (uint32_t b = kMaxBlock / 2; b >= 1; b >>= 1, --lg) {
    if (!(rest & b)) continue;
    if (skip-- == 0) {
      len = b;
      break;
    }
    first += b;
  }
  const size_t g0 = at + first;
  for (uint32_t i = threadIdx.x; i < len; i += kSmallThreads) {
    const size_t g = g0 + i;
    float x = in[g];
    if (ROTATE) x = flip(x, rng_u32(key, static_cast<uint32_t>(g >> 5)), static_cast<uint32_t>(g & 31));
    sm[i] = x;
  }
  for (uint32_t h = 1; h < len; h *= 2) {
    __syncthreads();
    for (uint32_t p = threadIdx.x; p < len / 2; p += kSmallThreads) {
      const uint32_t lo = ((p & ~(h - 1)) << 1) | (p & (h - 1));
      butterfly(sm[lo], sm[lo + h]);
    }
  }
  __syncthreads();
  const float scale = scales.of_log2[lg];
  for (uint32_t i = threadIdx.x; i < len; i += kSmallThreads) {
    const size_t g = g0 + i;
    float x = sm[i];
    if (len > 1) x = __fmul_rn(x, scale);  // a block of one is left as it is (transform_block)
    if (!ROTATE) x = flip(x, rng_u32(key, static_cast<uint32_t>(g >> 5)), static_cast<uint32_t>(g & 31));
    out[g] = x;
  }
}

template <bool ROTATE, bool VEC>
void launch_full(const float* in, float* out, size_t blocks, uint64_t key, cudaStream_t s) {
  constexpr int kSmem = static_cast<int>(kMaxBlock * sizeof(float));
  auto kernel = full_blocks_kernel<ROTATE, VEC>;
  // Cheap host calls (no sync): 64 KiB is above the default 48 KiB per block, and
  // the largest shared-memory carveout lets three blocks share an SM.
  devutil::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
                 "cudaFuncSetAttribute (hadamard)");
  devutil::check(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                      cudaSharedmemCarveoutMaxShared),
                 "cudaFuncSetAttribute (hadamard)");
  kernel<<<static_cast<unsigned>(blocks), kThreads, kSmem, s>>>(in, out, key, block_scale(kMaxBlock));
}

template <bool ROTATE>
void run(const float* in, float* out, size_t n, uint64_t key, void* stream) {
  if (n == 0) return;
  const cudaStream_t s = devutil::as_stream(stream);
  const size_t full = n / kMaxBlock;
  if (full > 0) {
    if (devutil::aligned(in, 16) && devutil::aligned(out, 16))
      launch_full<ROTATE, true>(in, out, full, key, s);
    else
      launch_full<ROTATE, false>(in, out, full, key, s);
    devutil::check_launch("hadamard: whole blocks");
  }
  const uint32_t rest = static_cast<uint32_t>(n - full * kMaxBlock);
  if (rest > 0) {
    Scales sc;
    for (int k = 0; k <= kLevels; ++k) sc.of_log2[k] = block_scale(size_t(1) << k);
    small_blocks_kernel<ROTATE><<<__builtin_popcount(rest), kSmallThreads, 0, s>>>(in, out, full * kMaxBlock, rest,
                                                                                   key, sc);
    devutil::check_launch("hadamard: remainder blocks");
  }
}

}  // namespace

void device_rotate(const float* d_in, float* d_out, size_t n, uint64_t key, void* stream) {
  run<true>(d_in, d_out, n, key, stream);
}

void device_unrotate(const float* d_in, float* d_out, size_t n, uint64_t key, void* stream) {
  run<false>(d_in, d_out, n, key, stream);
}

}  // namespace hadamard
}  // namespace gw
