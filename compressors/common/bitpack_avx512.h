// AVX-512 (F/BW/VL) forms of bitpack.h (the LSB-first B-bit code packing of the
// bucket quantizers), plus the byte narrowing their AVX-512 bucket loops share.
// Functions are target-attributed and always inlined; include this header only
// from a translation unit whose callers carry the avx512f,avx512bw,avx512vl
// target (x86-64 GCC/Clang). Bit-identical to the scalar reference.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "compressors/common/bitpack.h"
#include "compressors/common/bitpack_avx2.h"  // prefetch_ahead

#define GW_BITPACK_AVX512_INLINE \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

namespace gw {
namespace bitpack {
namespace avx512 {

// Stores the 32 int32 codes a, b (lanes in order, each in [0, 255]) as 32 bytes
// at lv: two saturating packs, then the 128-bit lane order fixed.
GW_BITPACK_AVX512_INLINE void store_bytes32(uint8_t* lv, __m512i a, __m512i b) {
  __m512i w = _mm512_packus_epi32(a, b);  // per lane: a(4) b(4) as u16
  __m256i lo = _mm512_cvtepi16_epi8(w);   // per lane: a(4) b(4) as u8, lanes 0..3
  // lane q holds a[4q..4q+3], b[4q..4q+3]: reorder dwords to a0..a15 b0..b15.
  __m256i ord = _mm256_permutevar8x32_epi32(lo, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv), ord);
}

// Stores the 16 int32 codes a (each in [0, 255]) as 16 bytes at lv.
GW_BITPACK_AVX512_INLINE void store_bytes16(uint8_t* lv, __m512i a) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lv), _mm512_cvtepi32_epi8(a));
}

// The 64 int32 codes a, b, c, d (lanes in order, each in [0, 255]) as 64 bytes
// in order: two saturating packs to words, one to bytes, then the dwords of the
// 128-bit lanes put in order.
GW_BITPACK_AVX512_INLINE __m512i bytes64(__m512i a, __m512i b, __m512i c, __m512i d) {
  // lane q: a[4q..4q+3] b[4q..4q+3] c[4q..4q+3] d[4q..4q+3]
  const __m512i v = _mm512_packus_epi16(_mm512_packus_epi32(a, b), _mm512_packus_epi32(c, d));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v);
}

// Packs 64 byte-codes v (each < 2^B) as 8 * B bytes at out, for B = 8, 4, 2
// (the in-register form of pack below).
template <int B>
GW_BITPACK_AVX512_INLINE void pack64(__m512i v, uint8_t* out) {
  static_assert(B == 8 || B == 4 || B == 2, "pack64: B = 8, 4 or 2");
  if (B == 8) {
    _mm512_storeu_si512(out, v);
  } else if (B == 4) {
    __m512i t = _mm512_or_si512(v, _mm512_srli_epi16(v, 4));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi16_epi8(t));
  } else {
    __m512i y = _mm512_or_si512(v, _mm512_srli_epi32(v, 6));
    y = _mm512_or_si512(y, _mm512_srli_epi32(y, 12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(y));
  }
}

// pack of 64 byte-codes at lv (each < 2^B) into 8 * B bytes at out, for the
// widths that do not divide 8 (B = 3, 5, 6, 7): neighbours merged in widening
// lanes (bytes -> 2B bits per word -> 4B per dword -> 8B per qword, LSB first),
// the B bytes of each qword gathered to the front of its 128-bit lane, and the
// four lanes' 2B bytes written with masked stores.
template <int B>
GW_BITPACK_AVX512_INLINE void pack64_odd(const uint8_t* lv, uint8_t* out) {
  const __m512i v = _mm512_loadu_si512(lv);
  // x | (y & m): ternary-logic immediate 0xF8.
  __m512i w = _mm512_ternarylogic_epi32(_mm512_and_si512(v, _mm512_set1_epi16(0x00ff)), _mm512_srli_epi16(v, 8 - B),
                                        _mm512_set1_epi16(static_cast<short>(((1 << (2 * B)) - 1) & ~((1 << B) - 1))),
                                        0xF8);
  __m512i d = _mm512_ternarylogic_epi32(
      _mm512_and_si512(w, _mm512_set1_epi32(0xffff)), _mm512_srli_epi32(w, 16 - 2 * B),
      _mm512_set1_epi32(static_cast<int>(((1u << (4 * B)) - 1u) & ~((1u << (2 * B)) - 1u))), 0xF8);
  __m512i q = _mm512_ternarylogic_epi64(
      _mm512_and_si512(d, _mm512_set1_epi64(0xffffffffll)), _mm512_srli_epi64(d, 32 - 4 * B),
      _mm512_set1_epi64(static_cast<long long>(((1ull << (8 * B)) - 1ull) & ~((1ull << (4 * B)) - 1ull))), 0xF8);
  // Bytes 0..B-1 and 8..8+B-1 of each lane to its front.
  alignas(16) int8_t sel[16];
  for (int i = 0; i < 16; ++i) sel[i] = static_cast<int8_t>(i < B ? i : i < 2 * B ? 8 + i - B : -1);
  const __m512i g =
      _mm512_shuffle_epi8(q, _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(sel))));
  const __mmask16 m = static_cast<__mmask16>((1u << (2 * B)) - 1u);
  _mm_mask_storeu_epi8(out, m, _mm512_castsi512_si128(g));
  _mm_mask_storeu_epi8(out + 2 * B, m, _mm512_extracti32x4_epi32(g, 1));
  _mm_mask_storeu_epi8(out + 4 * B, m, _mm512_extracti32x4_epi32(g, 2));
  _mm_mask_storeu_epi8(out + 6 * B, m, _mm512_extracti32x4_epi32(g, 3));
}

template <int B>
GW_BITPACK_AVX512_INLINE size_t pack_odd(const uint8_t* lv, size_t len, uint8_t* out) {
  size_t k = 0;
  for (; k + 64 <= len; k += 64) pack64_odd<B>(lv + k, out + k / 8 * B);
  return k;
}

// bitpack::pack of byte-codes lv[0..len): 64 codes at a time (the scalar packer
// for the rest).
GW_BITPACK_AVX512_INLINE void pack(const uint8_t* lv, size_t len, int bits, uint8_t* out) {
  size_t k = 0;
  if (bits == 3) {
    k = pack_odd<3>(lv, len, out);
  } else if (bits == 5) {
    k = pack_odd<5>(lv, len, out);
  } else if (bits == 6) {
    k = pack_odd<6>(lv, len, out);
  } else if (bits == 7) {
    k = pack_odd<7>(lv, len, out);
  } else if (bits == 4) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      __m512i t = _mm512_or_si512(v, _mm512_srli_epi16(v, 4));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k / 2), _mm512_cvtepi16_epi8(t));
    }
  } else if (bits == 2) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      __m512i y = _mm512_or_si512(v, _mm512_srli_epi32(v, 6));
      y = _mm512_or_si512(y, _mm512_srli_epi32(y, 12));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k / 4), _mm512_cvtepi32_epi8(y));
    }
  } else if (bits == 1) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      uint64_t m = _mm512_test_epi8_mask(v, _mm512_set1_epi8(1));
      memcpy(out + k / 8, &m, 8);
    }
  }
  // k * bits is a multiple of 8 here: the rest starts on a byte boundary.
  bitpack::pack(lv + k, len - k, bits, out + k * static_cast<size_t>(bits) / 8);
}

// Codes k..k+15 (k a multiple of 16) as int32 lanes. src is unpack_source<B>():
// the packed run for B = 4, 2, 1 (unpacked in registers) and 8, bytes otherwise.
template <int B>
GW_BITPACK_AVX512_INLINE __m512i codes16(const uint8_t* src, size_t k) {
  if (B == 4) {
    uint64_t w;
    memcpy(&w, src + k / 2, 8);
    __m512i x = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                         _mm512_castsi128_si512(_mm_cvtsi64_si128(static_cast<long long>(w))));
    return _mm512_and_si512(
        _mm512_srlv_epi32(x, _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28)),
        _mm512_set1_epi32(15));
  } else if (B == 2) {
    uint32_t w;
    memcpy(&w, src + k / 4, 4);
    return _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w)),
                          _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)),
        _mm512_set1_epi32(3));
  } else if (B == 1) {
    uint16_t w;
    memcpy(&w, src + k / 8, 2);
    return _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_set1_epi32(w),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)),
        _mm512_set1_epi32(1));
  } else {  // B == 8 or bytes
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k)));
  }
}

}  // namespace avx512
}  // namespace bitpack
}  // namespace gw
