// Array fp16 / bf16 conversions: scalar reference plus F16C/AVX2 and AVX-512
// paths selected by cpu_isa(). Each SIMD path finishes its tail with the scalar
// functions, and the vector bodies compute the same bits (F16C rounds to nearest
// even and quiets NaNs exactly as float_to_half_bits does; bf16 uses the same
// integer rounding). Pointers may be unaligned (unaligned loads / memcpy).
// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "src/common/half.h"

#include "src/common/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_X86_SIMD 1
#include <immintrin.h>
#else
#define GW_X86_SIMD 0
#endif

namespace gw {
namespace {

inline uint16_t load_u16(const void* p, size_t i) {
  uint16_t v;
  memcpy(&v, static_cast<const uint8_t*>(p) + 2 * i, 2);
  return v;
}
inline void store_u16(void* p, size_t i, uint16_t v) { memcpy(static_cast<uint8_t*>(p) + 2 * i, &v, 2); }

// ---- scalar reference -------------------------------------------------------------
bool f2h_scalar(const float* in, void* out, size_t n) {
  bool bad = false;
  for (size_t i = 0; i < n; ++i) {
    bad |= is_nonfinite(in[i]);
    store_u16(out, i, float_to_half_bits(in[i]));
  }
  return bad;
}
bool f2b_scalar(const float* in, void* out, size_t n) {
  bool bad = false;
  for (size_t i = 0; i < n; ++i) {
    bad |= is_nonfinite(in[i]);
    store_u16(out, i, float_to_bf16_bits(in[i]));
  }
  return bad;
}
template <bool kAdd>
void h2f_scalar(const void* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float v = half_bits_to_float(load_u16(in, i));
    out[i] = kAdd ? out[i] + v : v;
  }
}
template <bool kAdd>
void b2f_scalar(const void* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float v = bf16_bits_to_float(load_u16(in, i));
    out[i] = kAdd ? out[i] + v : v;
  }
}

#if GW_X86_SIMD
#define GW_AVX2 __attribute__((target("avx2,fma,f16c")))
#define GW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

// ---- AVX2 + F16C ------------------------------------------------------------------
GW_AVX2 bool f2h_avx2(const float* in, void* out, size_t n) {
  uint8_t* o = static_cast<uint8_t*>(out);
  __m256 bad = _mm256_setzero_ps();  // x - x is NaN exactly when x is not finite
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a = _mm256_loadu_ps(in + i), b = _mm256_loadu_ps(in + i + 8);
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_sub_ps(a, a), _mm256_sub_ps(b, b)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * i), _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * i + 16),
                     _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT));
  }
  bool any = _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
  return f2h_scalar(in + i, o + 2 * i, n - i) || any;
}

GW_AVX2 inline __m256i bf16_round_avx2(__m256 v) {
  __m256i x = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  __m256i q = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  return _mm256_blendv_epi8(r, q, _mm256_castps_si256(nan));
}

GW_AVX2 bool f2b_avx2(const float* in, void* out, size_t n) {
  uint8_t* o = static_cast<uint8_t*>(out);
  __m256 bad = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a = _mm256_loadu_ps(in + i), b = _mm256_loadu_ps(in + i + 8);
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_sub_ps(a, a), _mm256_sub_ps(b, b)));
    __m256i p = _mm256_packus_epi32(bf16_round_avx2(a), bf16_round_avx2(b));
    p = _mm256_permute4x64_epi64(p, 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * i), p);
  }
  bool any = _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
  return f2b_scalar(in + i, o + 2 * i, n - i) || any;
}

template <bool kAdd>
GW_AVX2 void h2f_avx2(const void* in, float* out, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(in);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
    if (kAdd) v = _mm256_add_ps(_mm256_loadu_ps(out + i), v);
    _mm256_storeu_ps(out + i, v);
  }
  h2f_scalar<kAdd>(p + 2 * i, out + i, n - i);
}

template <bool kAdd>
GW_AVX2 void b2f_avx2(const void* in, float* out, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(in);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
    __m256 v = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    if (kAdd) v = _mm256_add_ps(_mm256_loadu_ps(out + i), v);
    _mm256_storeu_ps(out + i, v);
  }
  b2f_scalar<kAdd>(p + 2 * i, out + i, n - i);
}

// ---- AVX-512 ----------------------------------------------------------------------
// Bitwise or of floats without AVX512DQ.
GW_AVX512 inline __m512 or512(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

GW_AVX512 bool f2h_avx512(const float* in, void* out, size_t n) {
  uint8_t* o = static_cast<uint8_t*>(out);
  __m512 bad = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = _mm512_loadu_ps(in + i), b = _mm512_loadu_ps(in + i + 16);
    bad = or512(bad, or512(_mm512_sub_ps(a, a), _mm512_sub_ps(b, b)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * i), _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * i + 32),
                        _mm512_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT));
  }
  bool any = _mm512_cmp_ps_mask(bad, bad, _CMP_UNORD_Q) != 0;
  return f2h_scalar(in + i, o + 2 * i, n - i) || any;
}

GW_AVX512 inline __m512i bf16_round_avx512(__m512 v) {
  __m512i x = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
  __m512i q = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_blend_epi32(nan, r, q);
}

GW_AVX512 bool f2b_avx512(const float* in, void* out, size_t n) {
  uint8_t* o = static_cast<uint8_t*>(out);
  __m512 bad = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = _mm512_loadu_ps(in + i), b = _mm512_loadu_ps(in + i + 16);
    bad = or512(bad, or512(_mm512_sub_ps(a, a), _mm512_sub_ps(b, b)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * i), _mm512_cvtepi32_epi16(bf16_round_avx512(a)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * i + 32),
                        _mm512_cvtepi32_epi16(bf16_round_avx512(b)));
  }
  bool any = _mm512_cmp_ps_mask(bad, bad, _CMP_UNORD_Q) != 0;
  return f2b_scalar(in + i, o + 2 * i, n - i) || any;
}

template <bool kAdd>
GW_AVX512 void h2f_avx512(const void* in, float* out, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(in);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
    if (kAdd) v = _mm512_add_ps(_mm512_loadu_ps(out + i), v);
    _mm512_storeu_ps(out + i, v);
  }
  h2f_scalar<kAdd>(p + 2 * i, out + i, n - i);
}

template <bool kAdd>
GW_AVX512 void b2f_avx512(const void* in, float* out, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(in);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
    __m512 v = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    if (kAdd) v = _mm512_add_ps(_mm512_loadu_ps(out + i), v);
    _mm512_storeu_ps(out + i, v);
  }
  b2f_scalar<kAdd>(p + 2 * i, out + i, n - i);
}
#endif  // GW_X86_SIMD

}  // namespace

#if GW_X86_SIMD
#define GW_DISPATCH(scalar_call, avx2_call, avx512_call) \
  switch (cpu_isa()) {                                   \
    case CpuIsa::AVX512:                                 \
      return avx512_call;                                \
    case CpuIsa::AVX2:                                   \
      return avx2_call;                                  \
    default:                                             \
      return scalar_call;                                \
  }
#else
#define GW_DISPATCH(scalar_call, avx2_call, avx512_call) return scalar_call;
#endif

bool float_to_half_check(const float* in, uint16_t* out, size_t n) {
  GW_DISPATCH(f2h_scalar(in, out, n), f2h_avx2(in, out, n), f2h_avx512(in, out, n))
}
bool float_to_bf16_check(const float* in, uint16_t* out, size_t n) {
  GW_DISPATCH(f2b_scalar(in, out, n), f2b_avx2(in, out, n), f2b_avx512(in, out, n))
}
void float_to_half(const float* in, uint16_t* out, size_t n) { float_to_half_check(in, out, n); }
void float_to_bf16(const float* in, uint16_t* out, size_t n) { float_to_bf16_check(in, out, n); }
void half_to_float(const uint16_t* in, float* out, size_t n) {
  GW_DISPATCH(h2f_scalar<false>(in, out, n), h2f_avx2<false>(in, out, n), h2f_avx512<false>(in, out, n))
}
void bf16_to_float(const uint16_t* in, float* out, size_t n) {
  GW_DISPATCH(b2f_scalar<false>(in, out, n), b2f_avx2<false>(in, out, n), b2f_avx512<false>(in, out, n))
}
void half_to_float_add(const uint16_t* in, float* acc, size_t n) {
  GW_DISPATCH(h2f_scalar<true>(in, acc, n), h2f_avx2<true>(in, acc, n), h2f_avx512<true>(in, acc, n))
}
void bf16_to_float_add(const uint16_t* in, float* acc, size_t n) {
  GW_DISPATCH(b2f_scalar<true>(in, acc, n), b2f_avx2<true>(in, acc, n), b2f_avx512<true>(in, acc, n))
}

}  // namespace gw
