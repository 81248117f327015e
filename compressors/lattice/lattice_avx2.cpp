// The lattice codes' loops on AVX2: 8 values per step (the hashes in 8 int32
// lanes, the arithmetic in two halves of 4 doubles), the same operations as the
// scalar reference in lattice_kernels.h, which also does the last len % 8.
#include "compressors/lattice/lattice_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define GW_AVX2 __attribute__((target("avx2")))
// Everything below, implicit members included, is AVX2 (no FMA: the same bits as the scalar loops).
#pragma GCC push_options
#pragma GCC target("avx2")

namespace gw {
namespace lattice {
namespace {

struct Consts {
  __m256d e, inv, max, neg_max, u24, one, two32, inv_two32, two31;
};

GW_AVX2 inline Consts consts(double e) {
  return {_mm256_set1_pd(e),
          _mm256_set1_pd(1.0 / e),
          _mm256_set1_pd(kMaxIndex),
          _mm256_set1_pd(-kMaxIndex),
          _mm256_set1_pd(kU24),
          _mm256_set1_pd(1.0),
          _mm256_set1_pd(4294967296.0),
          _mm256_set1_pd(1.0 / 4294967296.0),
          _mm256_set1_pd(2147483648.0)};
}

GW_AVX2 inline __m128i half(__m256i v, int h) { return h ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v); }
GW_AVX2 inline __m128 half(__m256 v, int h) { return h ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v); }

// uniform() of 4 lanes of (rng >> 8).
GW_AVX2 inline __m256d to_uniform(__m128i r24, const Consts& k) { return _mm256_mul_pd(_mm256_cvtepi32_pd(r24), k.u24); }

GW_AVX2 inline __m128i low32(__m256d z, const Consts& k) {
  const __m256d lo = _mm256_sub_pd(z, _mm256_mul_pd(k.two32, _mm256_floor_pd(_mm256_mul_pd(z, k.inv_two32))));
  return _mm_xor_si128(_mm256_cvttpd_epi32(_mm256_sub_pd(lo, k.two31)), _mm_set1_epi32(static_cast<int>(0x80000000u)));
}

GW_AVX2 inline __m256d clamp(__m256d t, const Consts& k) { return _mm256_max_pd(k.neg_max, _mm256_min_pd(k.max, t)); }

// The 8 rng words >> 8 of value indexes g under key.
GW_AVX2 inline __m256i rng24(uint64_t key, __m256i g) {
  const __m256i k0 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key)));
  const __m256i k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  return _mm256_srli_epi32(rng_u32_avx2(k0, k1, g), 8);
}

struct Hashes {  // no member initializers: GCC would build the constructor without AVX
  __m256i h1, h2;
  GW_AVX2 void add(__m256i zl, __m256i g) {
    const __m256i odd = _mm256_add_epi32(_mm256_slli_epi32(g, 1), _mm256_set1_epi32(1));
    h1 = _mm256_add_epi32(h1, _mm256_mullo_epi32(zl, _mm256_mullo_epi32(odd, _mm256_set1_epi32(static_cast<int>(kMult1)))));
    h2 = _mm256_add_epi32(h2, _mm256_mullo_epi32(zl, _mm256_mullo_epi32(odd, _mm256_set1_epi32(static_cast<int>(kMult2)))));
  }
  GW_AVX2 Check sum() const {  // addition mod 2^32: any order gives the same
    alignas(32) uint32_t a[8], b[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(a), h1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(b), h2);
    Check c;
    for (int i = 0; i < 8; ++i) {
      c.h1 += a[i];
      c.h2 += b[i];
    }
    return c;
  }
};

}  // namespace

GW_AVX2 Check encode_unit_avx2(const float* v, size_t len, uint32_t first, double e, uint64_t key, uint64_t rkey,
                               uint32_t mask, uint8_t* lv) {
  const Consts k = consts(e);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i vmask = _mm256_set1_epi32(static_cast<int>(mask));
  Hashes h{_mm256_setzero_si256(), _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256i g = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first + i)), lanes);
    const __m256i a = rng24(key, g), b = rng24(rkey, g);
    const __m256 x8 = _mm256_loadu_ps(v + i);
    __m128i zl[2];
    for (int s = 0; s < 2; ++s) {
      const __m256d theta = _mm256_mul_pd(k.e, to_uniform(half(a, s), k));
      const __m256d t = clamp(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(half(x8, s)), theta), k.inv), k);
      __m256d z = _mm256_floor_pd(t);
      const __m256d up = _mm256_and_pd(_mm256_cmp_pd(to_uniform(half(b, s), k), _mm256_sub_pd(t, z), _CMP_LT_OQ), k.one);
      z = _mm256_add_pd(z, up);
      zl[s] = low32(z, k);
    }
    const __m256i z8 = _mm256_set_m128i(zl[1], zl[0]);
    const __m256i code = _mm256_and_si256(z8, vmask);
    const __m128i c16 = _mm_packus_epi32(half(code, 0), half(code, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(lv + i), _mm_packus_epi16(c16, c16));
    h.add(z8, g);
  }
  Check c = h.sum();
  c.add(encode_unit_scalar(v + i, len - i, first + static_cast<uint32_t>(i), e, key, rkey, mask, lv + i));
  return c;
}

GW_AVX2 UnitResult decode_unit_avx2(const float* w, const uint8_t* lv, size_t len, uint32_t first, double e,
                                    uint64_t key, double q, float* o, bool add) {
  const Consts k = consts(e);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256d vq = _mm256_set1_pd(q), inv_q = _mm256_set1_pd(1.0 / q);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 nan8 = _mm256_set1_ps(NAN);
  const __m256d abs_mask_d = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
  __m256d far = _mm256_setzero_pd();
  __m256 nonfinite = _mm256_setzero_ps();
  Hashes h{_mm256_setzero_si256(), _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256i g = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first + i)), lanes);
    const __m256i a = rng24(key, g);
    const __m256 w8 = _mm256_loadu_ps(w + i);
    // |w| <= FLT_MAX on the floats (false for NaN and Inf), widened per half.
    const __m256 fin8 = _mm256_cmp_ps(_mm256_and_ps(w8, abs_mask), _mm256_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ);
    nonfinite = _mm256_or_ps(nonfinite, _mm256_xor_ps(fin8, _mm256_castsi256_ps(_mm256_set1_epi32(-1))));
    const __m256i codes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(lv + i)));
    __m128i zl[2];
    __m128 value[2];
    for (int s = 0; s < 2; ++s) {
      const __m256d fin = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(half(_mm256_castps_si256(fin8), s)));
      const __m256d theta = _mm256_mul_pd(k.e, to_uniform(half(a, s), k));
      const __m256d t =
          _mm256_and_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(half(w8, s)), theta), k.inv), fin);
      far = _mm256_or_pd(far, _mm256_cmp_pd(_mm256_and_pd(t, abs_mask_d), k.max, _CMP_GT_OQ));
      const __m256d tc = clamp(t, k);
      const __m256d c = _mm256_cvtepi32_pd(half(codes, s));
      const __m256d r = _mm256_round_pd(_mm256_mul_pd(_mm256_sub_pd(tc, c), inv_q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m256d z = _mm256_add_pd(c, _mm256_mul_pd(vq, r));
      zl[s] = low32(z, k);
      value[s] = _mm256_cvtpd_ps(_mm256_add_pd(theta, _mm256_mul_pd(k.e, z)));
    }
    __m256 v8 = _mm256_blendv_ps(nan8, _mm256_set_m128(value[1], value[0]), fin8);
    if (add) v8 = _mm256_add_ps(_mm256_loadu_ps(o + i), v8);
    _mm256_storeu_ps(o + i, v8);
    h.add(_mm256_set_m128i(zl[1], zl[0]), g);
  }
  UnitResult r;
  r.check = h.sum();
  r.far = _mm256_movemask_pd(far) != 0;
  r.nonfinite = _mm256_movemask_ps(nonfinite) != 0;
  r.add(decode_unit_scalar(w + i, lv + i, len - i, first + static_cast<uint32_t>(i), e, key, q, o + i, add));
  return r;
}

}  // namespace lattice
}  // namespace gw

#pragma GCC pop_options
#endif
