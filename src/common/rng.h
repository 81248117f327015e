// Counter-based random numbers for stochastic rounding, shared by the CPU and
// CUDA codecs (header-only; per-element code uses 32-bit integer ops only).
//
//   key = rng_derive_key(seed, step, layer_hash, rank, chunk)   once per encode call
//   r_i = rng_u32(key, i)                                       element i of that call
//   u_i = (r_i >> 8) * 2^-24                                    uniform in [0, 1), 24 bits
//
// Element i's number depends only on (key, i), so any split of the work (SIMD
// lanes, threads, CUDA blocks) gives the same bits. rng_u32 is a keyed variant of
// the "lowbias32" integer hash (C. Wellons, hash-prospector): two
// xorshift-multiply rounds, the low key half added to the counter first (so a
// SIMD loop can step counter + key directly) and the high key half xored in
// between the rounds. The AVX2 / AVX-512 versions below compute the same function
// on 8 / 16 counters.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GW_HOST_DEVICE __host__ __device__
#else
#define GW_HOST_DEVICE
#endif

namespace gw {

constexpr uint32_t kRngMul1 = 0x21f0aaadu;
constexpr uint32_t kRngMul2 = 0x735a2d97u;
// u = (r >> 8) * kRngUnit is uniform in [0, 1) with 24 random bits.
constexpr float kRngUnit = 1.0f / 16777216.0f;

// splitmix64's finalizer.
GW_HOST_DEVICE inline uint64_t rng_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One key per (seed, step, layer, rank, chunk): a splitmix64 chain absorbing
// each input in turn, so swapping two inputs gives a different key.
GW_HOST_DEVICE inline uint64_t rng_derive_key(uint64_t seed, uint64_t step, uint64_t layer_hash,
                                              uint64_t rank, uint64_t chunk) {
  const uint64_t g = 0x9e3779b97f4a7c15ull;
  uint64_t h = rng_mix64(seed + g);
  h = rng_mix64(h ^ (step + 2 * g));
  h = rng_mix64(h ^ (layer_hash + 3 * g));
  h = rng_mix64(h ^ (rank + 4 * g));
  h = rng_mix64(h ^ (chunk + 5 * g));
  return h;
}

GW_HOST_DEVICE inline uint32_t rng_u32(uint64_t key, uint32_t counter) {
  uint32_t x = counter + static_cast<uint32_t>(key);
  x ^= x >> 16;
  x *= kRngMul1;
  x ^= x >> 15;
  x ^= static_cast<uint32_t>(key >> 32);
  x *= kRngMul2;
  x ^= x >> 15;
  return x;
}

// Uniform float in [0, 1) from 24 bits of rng_u32 (exact: integer times 2^-24).
GW_HOST_DEVICE inline float rng_uniform(uint64_t key, uint32_t counter) {
  return static_cast<float>(rng_u32(key, counter) >> 8) * kRngUnit;
}

#if defined(__CUDACC__)
// rng_uniform() of r = rng_u32(...) in CUDA kernels, the same float without the
// shift: r with its low 8 bits cleared has at most 24 significant bits, so it
// converts exactly, and (r >> 8) * 2^-24 = (r & ~0xff) * 2^-32. The mask merges
// into the hash's last xor (one integer op less per value, where the integer
// pipe limits the encode kernels).
__device__ __forceinline__ uint32_t rng_high24(uint32_t r) { return r & 0xffffff00u; }
__device__ __forceinline__ float rng_uniform_of(uint32_t r) {
  return __fmul_rn(__uint2float_rn(rng_high24(r)), 0x1p-32f);
}
#endif

}  // namespace gw

#if !defined(__CUDACC__) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace gw {

// rng_u32 on 8 lanes from x1 = x0 ^ (x0 >> 16), the hash's first step (a loop
// whose counters share their high half within a bucket can form it as x0 ^ H).
__attribute__((target("avx2"), always_inline)) inline __m256i rng_u32_avx2_x1(__m256i x1, __m256i k1) {
  __m256i x = _mm256_mullo_epi32(x1, _mm256_set1_epi32(static_cast<int>(kRngMul1)));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_xor_si256(x, k1);
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(kRngMul2)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
}

// rng_u32 on 8 lanes given x0 = counter + low key half (k1: the high half,
// broadcast). Loops keep x0 as their counter and step it.
__attribute__((target("avx2"), always_inline)) inline __m256i rng_u32_avx2_x0(__m256i x0, __m256i k1) {
  return rng_u32_avx2_x1(_mm256_xor_si256(x0, _mm256_srli_epi32(x0, 16)), k1);
}

// rng_u32 on 8 counters. k0 / k1: the key's low / high half broadcast.
__attribute__((target("avx2"), always_inline)) inline __m256i rng_u32_avx2(__m256i k0, __m256i k1,
                                                                           __m256i counter) {
  return rng_u32_avx2_x0(_mm256_add_epi32(counter, k0), k1);
}

// rng_u32 on 16 lanes given x0 = counter + low key half.
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_u32_avx512_x0(__m512i x0, __m512i k1) {
  __m512i x = _mm512_xor_si512(x0, _mm512_srli_epi32(x0, 16));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(kRngMul1)));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  x = _mm512_xor_si512(x, k1);
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(kRngMul2)));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  return x;
}

// rng_u32 on 16 counters.
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_u32_avx512(__m512i k0, __m512i k1,
                                                                               __m512i counter) {
  return rng_u32_avx512_x0(_mm512_add_epi32(counter, k0), k1);
}

}  // namespace gw
#endif
