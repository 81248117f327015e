// Counter-based random numbers for stochastic rounding, shared by the CPU and
// CUDA codecs (header-only; per-element code uses 32-bit integer ops only).
//
//   key = rng_derive_key(seed, step, layer_hash, rank, chunk)   once per encode call
//   r   = rng_u32(key, c)                                       a 32-bit number per counter c
//   U_i = rng_sr16(key, i): half of rng_u32(key, i >> 1)        element i's 16 rounding bits
//   u_i = U_i * 2^-16                                           uniform in [0, 1), 16 bits
//
// Element i's number depends only on (key, i), so any split of the work (SIMD
// lanes, threads, CUDA blocks) gives the same bits. rng_u32 is a keyed variant of
// the "lowbias32" integer hash (C. Wellons, hash-prospector): two
// xorshift-multiply rounds, the low key half added to the counter first (so a
// SIMD loop can step counter + key directly) and the high key half xored in
// between the rounds. The AVX2 / AVX-512 versions below compute the same function
// on 8 / 16 counters.
//
// Stochastic rounding takes 16 bits per element, so one hash serves two
// elements: elements 2p and 2p+1 take the low and the high half of rng_u32(key,
// p). The encode kernels are bound by instruction issue (GPU) or by the hash's
// multiplies (CPU), and half the hashes is the largest saving left. A rounding
// probability is then a multiple of 2^-16 (rounded up from the exact one), so
// each rounding is biased by less than 2^-16 of a level step, far below the
// spread the unbiasedness tests can resolve.
#pragma once

#include <cstddef>
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

// Element i's 16 stochastic-rounding bits (see the top of this file): the low
// half of rng_u32(key, i >> 1) for even i, the high half for odd i (i: the
// element's index in its encode call, mod 2^32).
GW_HOST_DEVICE inline uint32_t rng_sr16(uint64_t key, uint32_t i) {
  const uint32_t h = rng_u32(key, i >> 1);
  return (i & 1u) ? h >> 16 : h & 0xffffu;
}
// u = U * kSrUnit is uniform in [0, 1) (exact: U has 16 bits).
constexpr float kSrUnit = 1.0f / 65536.0f;

// Whether element indices i0 .. i0 + len - 1 wrap past 2^32 (they count mod
// 2^32, and the pair counter of index 0 after 2^32 - 1 is 0, not 2^31). Only
// within encode calls of more than 2^32 values; SIMD loops that step pair
// counters hand such a run to the scalar reference.
inline bool rng_sr_wraps(uint32_t i0, size_t len) {
  return static_cast<uint64_t>(i0) + len > (uint64_t(1) << 32);
}

#if defined(__CUDACC__)
// The CUDA kernels keep element i's U at the top of a word, W = U << 16 (low
// half zero): the pair's hash h gives W = h << 16 for the even element and
// h & 0xffff0000 for the odd one, one instruction each. W converts to float
// exactly (16 significant bits), and u = W * 2^-32 = U * 2^-16.
__device__ __forceinline__ float rng_sr_uniform_of_top(uint32_t w) {
  return __fmul_rn(__uint2float_rn(w), 0x1p-32f);
}
// The top words of elements base..base+3 (indices mod 2^32) for an even base:
// two hashes. The second pair's counter is (base + 2) >> 1, not (base >> 1) + 1:
// past index 2^32 - 1 the element index, and so the pair counter, restarts at 0.
__device__ __forceinline__ void rng_sr_top4(uint64_t key, uint32_t base, uint32_t (&w)[4]) {
  const uint32_t h0 = rng_u32(key, base >> 1), h1 = rng_u32(key, (base + 2u) >> 1);
  w[0] = h0 << 16, w[1] = h0 & 0xffff0000u, w[2] = h1 << 16, w[3] = h1 & 0xffff0000u;
}
// The same for any base (an odd bucket size puts chunks on odd indices).
__device__ __forceinline__ void rng_sr_top4_any(uint64_t key, uint32_t base, uint32_t (&w)[4]) {
  if ((base & 1u) == 0u) {
    rng_sr_top4(key, base, w);
  } else {
    const uint32_t h0 = rng_u32(key, base >> 1), h1 = rng_u32(key, (base + 1u) >> 1),
                   h2 = rng_u32(key, (base + 3u) >> 1);
    w[0] = h0 & 0xffff0000u, w[1] = h1 << 16, w[2] = h1 & 0xffff0000u, w[3] = h2 << 16;
  }
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

// rng_sr16 for 16 consecutive elements from an even index i, from one 8-lane
// hash: the lanes hash the pair counters p + rng_sr_pair_order_avx2() (p = i / 2;
// plus the low key half, as rng_u32_avx2), in an order that lets one in-lane
// byte shuffle per 8 elements put each element's half, zero-extended, in its
// lane: rng_sr16_avx2_first(h) holds U for elements i..i+7,
// rng_sr16_avx2_second(h) for i+8..i+15. Loops step the counters by 8 per 16
// elements. kShift = 8 gives U << 8 instead, with the same one shuffle (the
// halves land a byte higher): nuq's kernels compare a 24-bit u24 = U << 8.
__attribute__((target("avx2"), always_inline)) inline __m256i rng_sr_pair_order_avx2() {
  return _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
}

// Byte b (of a 128-bit lane) of the in-lane shuffle control for half kHalf
// (first / second) and kShift: dword d takes the two bytes of half d % 2 of
// source dword d / 2 + 2 kHalf, at byte kShift / 8 of the dword; -1 zeroes.
constexpr char rng_sr_ctl(int half, int shift, int b) {
  const int e = b % 4 - shift / 8;  // byte of the half
  return e == 0 || e == 1 ? static_cast<char>(8 * half + 2 * (b / 4) + e) : static_cast<char>(-1);
}
#define GW_SR_CTL16(H, S)                                                                                     \
  rng_sr_ctl(H, S, 0), rng_sr_ctl(H, S, 1), rng_sr_ctl(H, S, 2), rng_sr_ctl(H, S, 3), rng_sr_ctl(H, S, 4),     \
      rng_sr_ctl(H, S, 5), rng_sr_ctl(H, S, 6), rng_sr_ctl(H, S, 7), rng_sr_ctl(H, S, 8), rng_sr_ctl(H, S, 9), \
      rng_sr_ctl(H, S, 10), rng_sr_ctl(H, S, 11), rng_sr_ctl(H, S, 12), rng_sr_ctl(H, S, 13),                 \
      rng_sr_ctl(H, S, 14), rng_sr_ctl(H, S, 15)

template <int kHalf, int kShift>
__attribute__((target("avx2"), always_inline)) inline __m256i rng_sr16_avx2(__m256i h) {
  static_assert(kShift == 0 || kShift == 8, "U or U << 8");
  return _mm256_shuffle_epi8(h, _mm256_setr_epi8(GW_SR_CTL16(kHalf, kShift), GW_SR_CTL16(kHalf, kShift)));
}
template <int kShift = 0>
__attribute__((target("avx2"), always_inline)) inline __m256i rng_sr16_avx2_first(__m256i h) {
  return rng_sr16_avx2<0, kShift>(h);
}
template <int kShift = 0>
__attribute__((target("avx2"), always_inline)) inline __m256i rng_sr16_avx2_second(__m256i h) {
  return rng_sr16_avx2<1, kShift>(h);
}

// The same on AVX-512: 32 consecutive elements from an even index, one 16-lane
// hash of the pair counters p + rng_sr_pair_order_avx512() (step 16 per 32
// elements); _first holds U (or U << kShift) for elements i..i+15, _second for
// i+16..i+31.
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_sr_pair_order_avx512() {
  return _mm512_setr_epi32(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
}
template <int kHalf, int kShift>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i rng_sr16_avx512(__m512i h) {
  static_assert(kShift == 0 || kShift == 8, "U or U << 8");
  return _mm512_shuffle_epi8(h, _mm512_broadcast_i32x4(_mm_setr_epi8(GW_SR_CTL16(kHalf, kShift))));
}
template <int kShift = 0>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i rng_sr16_avx512_first(__m512i h) {
  return rng_sr16_avx512<0, kShift>(h);
}
template <int kShift = 0>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i rng_sr16_avx512_second(__m512i h) {
  return rng_sr16_avx512<1, kShift>(h);
}

// rng_u32 on 16 lanes from x1 = x0 ^ (x0 >> 16) (as rng_u32_avx2_x1).
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_u32_avx512_x1(__m512i x1, __m512i k1) {
  __m512i x = _mm512_mullo_epi32(x1, _mm512_set1_epi32(static_cast<int>(kRngMul1)));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  x = _mm512_xor_si512(x, k1);
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(kRngMul2)));
  return _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
}

// rng_u32 on 16 lanes given x0 = counter + low key half.
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_u32_avx512_x0(__m512i x0, __m512i k1) {
  return rng_u32_avx512_x1(_mm512_xor_si512(x0, _mm512_srli_epi32(x0, 16)), k1);
}

// rng_u32 on 16 counters.
__attribute__((target("avx512f"), always_inline)) inline __m512i rng_u32_avx512(__m512i k0, __m512i k1,
                                                                               __m512i counter) {
  return rng_u32_avx512_x0(_mm512_add_epi32(counter, k0), k1);
}

#undef GW_SR_CTL16

}  // namespace gw
#endif
