// Device side of bitpack.h for the bucket quantizers' CUDA twins (maxmin.cu,
// qsgd.cu): the team-per-bucket mapping they share, and the chunk loads, stores
// and B-bit code packing / unpacking. Only mechanics: each codec keeps its own
// per-bucket math (reductions, scale, levels) and its kernels.
//
// Mapping: one "team" of W threads per bucket, W a power of two with
// kChunksPerThread * W chunks of 4 values >= the bucket (W = 4 for bucket 64, 32
// for 512, 512 for 8192). Teams of up to a warp share kSmallTeamBlock-thread
// blocks; larger teams are one block. Chunk c = k*W + t of a bucket is thread t's
// k-th chunk, so every load and store instruction of a warp covers consecutive
// 16-byte pieces. A chunk's 4 codes are 4*bits bits at bit 4*bits*c of the
// bucket's code bytes (LSB first, as bitpack.h): whole bytes for even bits; for
// odd bits two neighbouring chunks (threads t, t+1) make whole bytes, and the even
// thread writes them. No two threads write the same byte.
// Header-only (nvcc): compressors/*/*.cu globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/core/device_util.cuh"

namespace gw {
namespace bitpack {

// Chunks of 4 consecutive values each thread holds, unless a kernel says
// otherwise (qsgd's encode holds 8: see qsgd.cu).
constexpr int kChunksPerThread = 4;
constexpr int kSmallTeamBlock = 256;  // block size when teams are at most a warp

template <int W>
__host__ __device__ constexpr int block_threads() {
  return W <= 32 ? kSmallTeamBlock : W;
}

// Blocks of the encode kernels that must fit on one SM at once, for
// __launch_bounds__ (0: no register cap). Encode holds 16 values per thread in
// registers and alternates a load phase with a long compute phase, so more
// resident warps overlap the two better; GW_ENCODE_MIN_BLOCKS (per 256
// threads) overrides it for tuning runs.
#ifndef GW_ENCODE_MIN_BLOCKS
#define GW_ENCODE_MIN_BLOCKS 0
#endif
template <int W>
__host__ __device__ constexpr int encode_min_blocks() {
  return GW_ENCODE_MIN_BLOCKS == 0 ? 0 : (GW_ENCODE_MIN_BLOCKS * kSmallTeamBlock + block_threads<W>() - 1) / block_threads<W>();
}

// Smallest power-of-two team (at least 4) with chunks_per_thread * W chunks of 4
// covering a bucket: with 4 per thread, 4 for bucket 64, 32 for 512, 512 for 8192.
inline int team_width(size_t bucket, int chunks_per_thread = kChunksPerThread) {
  const int chunks = static_cast<int>((bucket + 3) / 4);
  const int need = (chunks + chunks_per_thread - 1) / chunks_per_thread;
  int w = 4;
  while (w < need) w *= 2;
  return w;
}

// Blocks for nb buckets with teams of W threads.
template <int W>
unsigned grid_of(uint64_t nb) {
  constexpr int per_block = block_threads<W>() / W;
  return static_cast<unsigned>((nb + per_block - 1) / per_block);
}

// CALL(W) with the compile-time team width W equal to the runtime w (4..512).
#define GW_TEAM_WIDTH_DISPATCH(w, CALL) \
  switch (w) {                          \
    case 4:                             \
      CALL(4);                          \
      break;                            \
    case 8:                             \
      CALL(8);                          \
      break;                            \
    case 16:                            \
      CALL(16);                         \
      break;                            \
    case 32:                            \
      CALL(32);                         \
      break;                            \
    case 64:                            \
      CALL(64);                         \
      break;                            \
    case 128:                           \
      CALL(128);                        \
      break;                            \
    case 256:                           \
      CALL(256);                        \
      break;                            \
    default:                            \
      CALL(512);                        \
      break;                            \
  }

// A chunk's 4 codes go into one word as sum(code_q * mul[q]), mul[q] = 2^(q*bits)
// (codes do not overlap). Set on the host and passed in the kernel's layout, so
// the compiler cannot turn the multiply-adds back into shifts and adds: the
// multiplies run on the FMA pipe, while the integer pipe limits the encode
// kernels. off4: 0x4b000000 * sum(mul), for codes taken as the bits of
// t + 2^23 (see maxmin.cu).
struct PackMul {
  uint32_t mul[4];
  uint32_t off4;
};
inline PackMul pack_multipliers(int bits) {
  PackMul m{};
  for (int q = 0; q < 4; ++q) {
    m.mul[q] = 1u << (q * bits);
    m.off4 += 0x4b000000u * m.mul[q];
  }
  return m;
}

// v combined over the bucket's team of W threads by op (associative and
// commutative, so the order does not matter: min, max, or, wrapping integer
// sums); every thread of the team gets the result. Every thread of the block
// must call it. Teams wider than a warp meet in shared memory, one scratch
// array per call site (each lambda is its own type).
template <int W, class T, class Op>
__device__ __forceinline__ T team_all(T v, Op op) {
  constexpr int WW = W < 32 ? W : 32;
#pragma unroll
  for (int o = WW / 2; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if constexpr (W > 32) {
    constexpr int NW = W / 32;
    __shared__ T s[NW];
    if ((threadIdx.x & 31) == 0) s[threadIdx.x >> 5] = v;
    __syncthreads();
    v = s[0];
#pragma unroll
    for (int w = 1; w < NW; ++w) v = op(v, s[w]);
  }
  return v;
}

// A thread's non-finite flag folded into its running max as +Inf, so that one
// team max reduction yields both: nf is the chain nf = fma(v, 0, nf) over the
// thread's values (+-0 while all are finite, NaN once one is NaN or +-Inf), and
// the max of finite values never reaches +Inf. One shuffle tree less per bucket.
__device__ __forceinline__ float fold_nonfinite(float mx, float nf) {
  return (__float_as_uint(nf) & 0x7fffffffu) != 0u ? INFINITY : mx;
}
// Whether a team max of fold_nonfinite() values saw a non-finite value.
__device__ __forceinline__ bool is_folded_nonfinite(float mx) { return mx == INFINITY; }

// Values in chunk c (4 values from 4c) of a bucket of len values.
__device__ __forceinline__ int chunk_count(uint32_t c, uint32_t len) {
  const uint32_t e = c * 4u;
  return e < len ? static_cast<int>(min(4u, len - e)) : 0;
}

// Loads chunk c of the bucket v (len values) into val (zeros past the end):
// one streaming 16-byte load when whole and L.vec (the codec's device layout says
// 16-byte float access is possible). FULL: the chunk is known to be whole.
// Returns its value count.
template <bool FULL, class DevLayout>
__device__ __forceinline__ int load_chunk(const float* __restrict__ v, uint32_t c, uint32_t len, const DevLayout& L,
                                          float (&val)[4]) {
  const uint32_t e = c * 4u;
  const int cnt = FULL ? 4 : chunk_count(c, len);
  if (cnt == 4 && L.vec) {
    const float4 a = __ldcs(reinterpret_cast<const float4*>(v + e));
    val[0] = a.x, val[1] = a.y, val[2] = a.z, val[3] = a.w;
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) val[q] = q < cnt ? v[e + q] : 0.0f;
  }
  return cnt;
}

// Writes chunk c's cnt codes, packed in acc (code q at bit q*bits), into the
// bucket's code bytes dst (len values; t is the thread's index in its team).
// Every thread of the warp must call it (odd bits pair threads by a shuffle).
template <bool FULL>
__device__ __forceinline__ void store_chunk_codes(uint8_t* dst, uint32_t acc, uint32_t c, int cnt, uint32_t len,
                                                  uint32_t t, int bits) {
  if (!(bits & 1)) {
    if (FULL || cnt > 0)
      devutil::store_bytes(dst + c * static_cast<uint32_t>(bits / 2), acc, FULL ? bits / 2 : (cnt * bits + 7) / 8);
  } else {
    const uint32_t next = __shfl_down_sync(0xffffffffu, acc, 1);  // chunk c + 1 (thread t + 1)
    if ((t & 1) == 0 && (FULL || cnt > 0)) {
      const int total = FULL ? 8 : cnt + chunk_count(c + 1, len);
      const uint64_t pair = static_cast<uint64_t>(acc) | (static_cast<uint64_t>(next) << (4 * bits));
      devutil::store_bytes(dst + (c / 2) * static_cast<uint32_t>(bits), pair, (total * bits + 7) / 8);
    }
  }
}

// The cnt (>= 1) codes of chunk c of the bucket's code bytes src, code q at bit
// q*bits of the result (reads only the bytes that hold them).
__device__ __forceinline__ uint32_t load_chunk_codes(const uint8_t* src, uint32_t c, int cnt, int bits) {
  const uint32_t bit0 = c * 4u * static_cast<uint32_t>(bits);
  const int sh = static_cast<int>(bit0 & 7u);
  return static_cast<uint32_t>(devutil::load_bytes(src + (bit0 >> 3), (sh + cnt * bits + 7) / 8) >> sh);
}

// Stores (ADD: adds, round to nearest) the cnt decoded values r of chunk c at
// o[4c..]: one streaming 16-byte store when whole and L.vec.
template <bool ADD, class DevLayout>
__device__ __forceinline__ void store_chunk(float* o, uint32_t c, const float (&r)[4], int cnt, const DevLayout& L) {
  const uint32_t e = c * 4u;
  if (cnt == 4 && L.vec) {
    float4* p = reinterpret_cast<float4*>(o + e);
    float4 a = make_float4(r[0], r[1], r[2], r[3]);
    if (ADD) {
      const float4 a0 = *p;
      a = make_float4(__fadd_rn(a0.x, a.x), __fadd_rn(a0.y, a.y), __fadd_rn(a0.z, a.z), __fadd_rn(a0.w, a.w));
    }
    __stcs(p, a);
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (q < cnt) o[e + q] = ADD ? __fadd_rn(o[e + q], r[q]) : r[q];
    }
  }
}

}  // namespace bitpack
}  // namespace gw
