// Device building blocks of the randomized Hadamard transform (hadamard.h) for
// one block of values in shared memory, shared by the rotation kernels
// (hadamard_device.cu) and kernels that rotate and then use the rotated block
// without it leaving the chip (eden's fused encode, compressors/eden/eden.cu).
// hadamard_device.cu's header comment says why these steps give the CPU's bits:
// the same levels in the same order, explicit round-to-nearest arithmetic.
//
// A whole 16 Ki block takes one CUDA block of kBlockThreads threads and
// kMaxBlock floats of shared memory, stored swizzled (swz): element e of the
// block lives at sm[swz(e)]; swz keeps each 4-aligned group of 4 contiguous.
// Header-only (nvcc): compressors/*/*.cu globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "compressors/common/hadamard.h"
#include "src/common/rng.h"

namespace gw {
namespace hadamard {
namespace blk {

constexpr int kBlockThreads = 512;  // per 16 Ki block: 32 values per thread
static_assert(size_t(kBlockThreads) * 32 == kMaxBlock, "the index bits of the steps below");

__device__ __forceinline__ uint32_t swz(uint32_t i) { return i ^ (((i >> 6) & 7u) << 2); }

__device__ __forceinline__ void butterfly(float& a, float& b) {
  const float s = __fadd_rn(a, b), d = __fsub_rn(a, b);
  a = s;
  b = d;
}

// v with its sign bit flipped where bit `bit` of `bits` is set.
__device__ __forceinline__ float flip(float v, uint32_t bits, uint32_t bit) {
  return __uint_as_float(__float_as_uint(v) ^ (((bits >> bit) & 1u) << 31));
}

// Levels of strides 1, 2, 4, 8 over r[0..16), in increasing stride.
__device__ __forceinline__ void levels16(float (&r)[16]) {
#pragma unroll
  for (int h = 1; h < 16; h *= 2)
#pragma unroll
    for (int j = 0; j < 16; ++j)
      if ((j & h) == 0) butterfly(r[j], r[j + h]);
}

// One of the in-place steps P2 / P3: the 16 values at base | (j << shift),
// j = 0..15, through their four levels.
__device__ __forceinline__ void step_in_place(float* sm, uint32_t base, int shift) {
  float r[16];
#pragma unroll
  for (int j = 0; j < 16; ++j) r[j] = sm[swz(base | (static_cast<uint32_t>(j) << shift))];
  levels16(r);
#pragma unroll
  for (int j = 0; j < 16; ++j) sm[swz(base | (static_cast<uint32_t>(j) << shift))] = r[j];
}

// Steps P1..P3 of a whole block src[0..kMaxBlock) (hadamard_device.cu's comment):
// load (sign flips first when ROTATE; word0 = the block's first element / 32),
// levels b0..b9, into sm. Ends with a barrier; P4 (the levels b10..b13, the
// scale) is the caller's: see p4_base.
template <bool ROTATE, bool VEC>
__device__ __forceinline__ void p1_to_p3(const float* __restrict__ src, float* sm, uint64_t key, uint32_t word0) {
  const uint32_t t = threadIdx.x, lane = t & 31u, warp = t >> 5;
  // The halves of P1 stay a loop (unroll 1): unrolled, the compiler keeps both
  // halves' values live and spills at the 40 registers of three blocks per SM.
#pragma unroll 1
  for (int half = 0; half < 2; ++half) {
    float v[4][4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t e = 4u * t + 2048u * (4 * half + k);
      if (VEC) {
        const float4 a = __ldcs(reinterpret_cast<const float4*>(src + e));
        v[k][0] = a.x, v[k][1] = a.y, v[k][2] = a.z, v[k][3] = a.w;
      } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) v[k][q] = src[e + q];
      }
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t e = 4u * t + 2048u * (4 * half + k);
      if (ROTATE) {
        const uint32_t bits = rng_u32(key, word0 + (e >> 5));
#pragma unroll
        for (int q = 0; q < 4; ++q) v[k][q] = flip(v[k][q], bits, (e & 31u) + q);
      }
      butterfly(v[k][0], v[k][1]);
      butterfly(v[k][2], v[k][3]);
      butterfly(v[k][0], v[k][2]);
      butterfly(v[k][1], v[k][3]);
      *reinterpret_cast<float4*>(sm + swz(e)) = make_float4(v[k][0], v[k][1], v[k][2], v[k][3]);
    }
  }
  __syncthreads();
  // P2: register j -> b2..b5; lane -> b0, b1, b6, b7, b8; warp -> b9..b12; half -> b13.
#pragma unroll
  for (uint32_t half = 0; half < 2; ++half)
    step_in_place(sm, (lane & 3u) | ((lane >> 2) << 6) | (warp << 9) | (half << 13), 2);
  __syncthreads();
  // P3: register j -> b6..b9; lane -> b0..b4; warp -> b5, b10, b11, b12; half -> b13.
#pragma unroll
  for (uint32_t half = 0; half < 2; ++half)
    step_in_place(sm, lane | ((warp & 1u) << 5) | ((warp >> 1) << 10) | (half << 13), 6);
  __syncthreads();
}

// P4's values of this thread for `half`: elements p4_base(half) | (j << 10), j = 0..15
// (register j -> b10..b13; lane -> b0..b4; warp -> b5..b8; half -> b9).
__device__ __forceinline__ uint32_t p4_base(uint32_t half) {
  return (threadIdx.x & 31u) | ((threadIdx.x >> 5) << 5) | (half << 9);
}

// P4 in shared memory, for kernels that use the rotated block next: levels
// b10..b13 and the scale (rotate: no signs after), each thread rewriting the
// words it read. Ends with a barrier: sm[swz(e)] is then element e of H D src.
__device__ __forceinline__ void p4_in_place(float* sm, float scale) {
#pragma unroll 1
  for (uint32_t half = 0; half < 2; ++half) {
    const uint32_t base = p4_base(half);
    float r[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) r[j] = sm[swz(base | (static_cast<uint32_t>(j) << 10))];
    levels16(r);
#pragma unroll
    for (int j = 0; j < 16; ++j) sm[swz(base | (static_cast<uint32_t>(j) << 10))] = __fmul_rn(r[j], scale);
  }
  __syncthreads();
}

// hadamard::rotate of one power-of-two block of len < kMaxBlock values (the
// remainder blocks), src = its first value, g0 = that value's index in the
// vector (for the signs), into sm (swizzled like the whole blocks), by all the
// CUDA block's threads, one level per barrier; scale = block_scale(len).
// Ends with a barrier.
__device__ __forceinline__ void rotate_small_in_smem(const float* __restrict__ src, size_t g0, uint32_t len,
                                                     uint64_t key, float scale, float* sm) {
  for (uint32_t i = threadIdx.x; i < len; i += blockDim.x) {
    const size_t g = g0 + i;
    sm[swz(i)] = flip(src[i], rng_u32(key, static_cast<uint32_t>(g >> 5)), static_cast<uint32_t>(g & 31));
  }
  for (uint32_t h = 1; h < len; h *= 2) {
    __syncthreads();
    for (uint32_t p = threadIdx.x; p < len / 2; p += blockDim.x) {
      const uint32_t lo = ((p & ~(h - 1)) << 1) | (p & (h - 1));
      float a = sm[swz(lo)], b = sm[swz(lo + h)];
      butterfly(a, b);
      sm[swz(lo)] = a;
      sm[swz(lo + h)] = b;
    }
  }
  __syncthreads();
  if (len > 1) {  // a block of one is left as it is (transform_block)
    for (uint32_t i = threadIdx.x; i < len; i += blockDim.x) sm[swz(i)] = __fmul_rn(sm[swz(i)], scale);
  }
  __syncthreads();
}

}  // namespace blk
}  // namespace hadamard
}  // namespace gw
