// AVX2 forms of bitpack.h (the LSB-first B-bit code packing of the bucket
// quantizers), plus the few lane helpers their AVX2 bucket loops share: prefetch,
// horizontal min/max, narrowing int32 codes to bytes. Functions are
// target-attributed and always inlined, so including this header compiles nothing
// for AVX2 by itself; include it only from a translation unit whose callers carry
// the avx2,fma target (x86-64 GCC/Clang). Bit-identical to the scalar reference.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "compressors/common/bitpack.h"

#define GW_BITPACK_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace gw {
namespace bitpack {

// Software prefetch of the two cache lines `ahead` floats after p (a hint: the
// address may lie past the buffer's end, so it is formed as an integer and never
// dereferenced).
GW_BITPACK_AVX2_INLINE void prefetch_ahead(const float* p, size_t ahead) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p) + 4 * ahead;
  __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 3);
  __builtin_prefetch(reinterpret_cast<const void*>(a + 64), 0, 3);
}

namespace avx2 {

GW_BITPACK_AVX2_INLINE float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
GW_BITPACK_AVX2_INLINE float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// Stores the 32 int32 codes a, b, c, d (lanes in order, each in [0, 255]) as 32
// bytes at lv: two saturating packs, then the 128-bit lane order fixed.
GW_BITPACK_AVX2_INLINE void store_bytes32(uint8_t* lv, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv), _mm256_permutevar8x32_epi32(w, perm));
}

// Four int32 vectors of 8 codes each (signed, in [-32768, 32767]) narrowed to
// 32 signed-saturated bytes in the order of two in-lane packs: with g0..g7 the
// groups of 4 consecutive codes (g0 = a[0..3], g1 = a[4..7], g2 = b[0..3], ...),
// the result holds g0 g2 g4 g6 in its low 128-bit lane and g1 g3 g5 g7 in its
// high one. unscramble32 puts them in order; the packers below take the scrambled
// order directly (4 codes of a group are consecutive codes either way).
GW_BITPACK_AVX2_INLINE __m256i narrow32_scrambled(__m256i a, __m256i b, __m256i c, __m256i d) {
  return _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
}
GW_BITPACK_AVX2_INLINE __m256i unscramble32(__m256i w) {
  return _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// 64 codes (bytes, < 2^B, in two scrambled vectors x = codes 0..31, y = codes
// 32..63, see narrow32_scrambled) packed LSB-first at B = 4 (32 bytes) or B = 2
// (16 bytes) into out, with multiply-adds (pmaddubsw / pmaddwd) instead of shifts.
template <int B>
GW_BITPACK_AVX2_INLINE void pack64_scrambled(__m256i x, __m256i y, uint8_t* out) {
  if (B == 4) {
    // Two codes per byte: each 16-bit word c0 + 16 c1 (< 256). Word order per
    // vector: lane 0 = groups 0 2 4 6, lane 1 = groups 1 3 5 7, 2 words a group.
    const __m256i m = _mm256_set1_epi16(0x1001);  // bytes 1, 16
    __m256i wx = _mm256_maddubs_epi16(x, m), wy = _mm256_maddubs_epi16(y, m);
    // bytes: lane 0 = [x: g0 g2 g4 g6 | y: g0 g2 g4 g6], lane 1 = [x: odd | y: odd]
    __m256i p = _mm256_packus_epi16(wx, wy);
    // 64-bit quarters [x even, y even, x odd, y odd] -> [x even, x odd, y even, y odd]
    p = _mm256_permute4x64_epi64(p, 0xd8);
    // in each lane: 2-byte units e0 e2 e4 e6 e1 e3 e5 e7 (by group) -> group order
    const __m256i order = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15, 0, 1, 8, 9, 2, 3, 10,
                                           11, 4, 5, 12, 13, 6, 7, 14, 15);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_shuffle_epi8(p, order));
  } else {  // B == 2
    // Four codes per byte: c0 + 4 c1 per word, then (c0 + 4 c1) + 16 (c2 + 4 c3) per dword.
    const __m256i m1 = _mm256_set1_epi16(0x0401), m2 = _mm256_set1_epi32(0x00100001);
    __m256i dx = _mm256_madd_epi16(_mm256_maddubs_epi16(x, m1), m2);
    __m256i dy = _mm256_madd_epi16(_mm256_maddubs_epi16(y, m1), m2);
    // one byte per group; words: lane 0 = [x: g0 g2 g4 g6 | y: g0 g2 g4 g6], lane 1 = odd
    __m256i w = _mm256_packus_epi32(dx, dy);
    __m256i b = _mm256_packus_epi16(w, w);  // lane 0 bytes 0..7: x g0 g2 g4 g6 y g0 g2 g4 g6; lane 1: odd
    // quarters [even, even, odd, odd] -> low lane [even, odd]
    b = _mm256_permute4x64_epi64(b, 0x08);
    const __m128i order = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(_mm256_castsi256_si128(b), order));
  }
}

// bitpack::pack of byte-codes lv[0..len): 32 codes at a time for bits 4, 2 and 1,
// the scalar packer for the rest.
GW_BITPACK_AVX2_INLINE void pack(const uint8_t* lv, size_t len, int bits, uint8_t* out) {
  size_t k = 0;
  if (bits == 4) {
    const __m256i lo = _mm256_set1_epi16(0xff);
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      __m256i t = _mm256_and_si256(_mm256_or_si256(v, _mm256_srli_epi16(v, 4)), lo);
      __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(t, t), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k / 2), _mm256_castsi256_si128(p));
    }
  } else if (bits == 2) {
    const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                                            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      __m256i y = _mm256_or_si256(v, _mm256_srli_epi32(v, 6));
      y = _mm256_or_si256(y, _mm256_srli_epi32(y, 12));
      y = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(y, gather), lanes);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + k / 4), _mm256_castsi256_si128(y));
    }
  } else if (bits == 1) {
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(v, 7)));
      memcpy(out + k / 8, &m, 4);
    }
  }
  // k * bits is a multiple of 8 here: the rest starts on a byte boundary.
  bitpack::pack(lv + k, len - k, bits, out + k * static_cast<size_t>(bits) / 8);
}

// Codes k..k+7 (k a multiple of 8) as int32 lanes. src is unpack_source<B>(): the
// packed run for B = 4, 2, 1 (unpacked in registers) and 8, bytes otherwise.
template <int B>
GW_BITPACK_AVX2_INLINE __m256i codes8(const uint8_t* src, size_t k) {
  if (B == 4) {
    uint32_t w;
    memcpy(&w, src + k / 2, 4);
    return _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w)), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
        _mm256_set1_epi32(15));
  } else if (B == 2) {
    uint16_t w;
    memcpy(&w, src + k / 4, 2);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(w), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                            _mm256_set1_epi32(3));
  } else if (B == 1) {
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(src[k / 8]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                            _mm256_set1_epi32(1));
  } else {  // B == 8 or bytes
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + k)));
  }
}

}  // namespace avx2
}  // namespace bitpack
}  // namespace gw
