// qsgd / nuq kernels, AVX-512 F/BW/VL (16 lanes). Same float operations as the
// scalar reference (qsgd_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "qsgd/qsgd_kernels.h"

#if GW_QSGD_X86
#include <immintrin.h>

#include "common/bitpack_avx512.h"

#define GW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define GW_TI __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

namespace gw {
namespace qsgd {
namespace {

// Software prefetch distance of the streaming loops (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

namespace simd = bitpack::avx512;
using bitpack::prefetch_ahead;

// max|v| and "some value is NaN/Inf" of v[0..len), len >= 1.
GW_TI void absmax(const float* v, size_t len, float* amax_out, bool* bad_out) {
  __m512 m0 = _mm512_setzero_ps(), m1 = m0;
  // fma(x, 0, acc) is acc for finite x and NaN (sticky) when x is NaN or +-Inf.
  __m512 bad0 = _mm512_setzero_ps(), bad1 = bad0;
  const __m512 zero = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    prefetch_ahead(v + k, kPrefetchFloats);
    __m512 a = _mm512_loadu_ps(v + k), b = _mm512_loadu_ps(v + k + 16);
    m0 = _mm512_max_ps(m0, _mm512_abs_ps(a));
    m1 = _mm512_max_ps(m1, _mm512_abs_ps(b));
    bad0 = _mm512_fmadd_ps(a, zero, bad0);
    bad1 = _mm512_fmadd_ps(b, zero, bad1);
  }
  float amax = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  __m512 bad = _mm512_add_ps(bad0, bad1);
  bool b = _mm512_cmp_ps_mask(bad, bad, _CMP_UNORD_Q) != 0;
  for (; k < len; ++k) {
    b |= !((v[k] - v[k]) == 0.0f);
    const float a = std::fabs(v[k]);
    amax = a > amax ? a : amax;
  }
  *amax_out = amax;
  *bad_out = b;
}

// sum over v of kMagicBits + round(v^2 * P) (wrapping uint64; see qsgd_kernels.h).
GW_TI uint64_t sumsq(const float* v, size_t len, double P) {
  const __m512d vp = _mm512_set1_pd(P), mg = _mm512_set1_pd(0x1p52);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    __m512d d0 = _mm512_cvtps_pd(_mm256_loadu_ps(v + k));
    __m512d d1 = _mm512_cvtps_pd(_mm256_loadu_ps(v + k + 8));
    a0 = _mm512_add_epi64(a0, _mm512_castpd_si512(_mm512_fmadd_pd(d0, _mm512_mul_pd(d0, vp), mg)));
    a1 = _mm512_add_epi64(a1, _mm512_castpd_si512(_mm512_fmadd_pd(d1, _mm512_mul_pd(d1, vp), mg)));
  }
  uint64_t sum = static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(a0, a1)));
  for (; k < len; ++k) sum += sumsq_term(v[k], P);
  return sum;
}

struct QuantConsts {
  __m512 vinv, vs, vclo, unit, one;
  __m512i k1, absmask, mantmask, kbias, one_i;
  __m128i sshift;  // bits - 1
};

template <int K>
GW_TI __m512i quant16(const float* s, __m512i ctr, const QuantConsts& c) {
  const __m512i xb = _mm512_loadu_si512(s);
  const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(xb, c.absmask));
  const __m512i u24 = _mm512_srli_epi32(rng_u32_avx512_x0(ctr, c.k1), 8);  // ctr = counter + low key half
  const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(u24), c.unit);
  __m512i l;
  if (K == NUQ) {
    const __m512 y = _mm512_min_ps(_mm512_mul_ps(ax, c.vinv), c.one);
    const __m512i yb = _mm512_castps_si512(y);
    const __m512i k = _mm512_add_epi32(_mm512_srli_epi32(yb, 23), c.kbias);
    const __m512i m2 = _mm512_slli_epi32(_mm512_and_si512(yb, c.mantmask), 1);
    const __m512i hi = _mm512_mask_add_epi32(k, _mm512_cmplt_epu32_mask(u24, m2), k, c.one_i);
    const __mmask16 lo = _mm512_cmp_ps_mask(u, _mm512_mul_ps(y, c.vclo), _CMP_LT_OQ);
    l = _mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(k, _mm512_setzero_si512()),
                                _mm512_maskz_mov_epi32(lo, c.one_i), hi);
  } else {
    l = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_fmadd_ps(ax, c.vinv, u), c.vs));
  }
  const __m512i sg = _mm512_sll_epi32(_mm512_srli_epi32(xb, 31), c.sshift);
  return _mm512_mask_or_epi32(l, _mm512_test_epi32_mask(l, l), l, sg);
}

// Byte codes of v[0..len) into lv[0..len).
template <int K>
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                    uint8_t* lv) {
  QuantConsts c;
  c.vinv = _mm512_set1_ps(p.inv);
  c.vs = _mm512_set1_ps(static_cast<float>(L.s));
  c.vclo = _mm512_set1_ps(nuq_c_lo(L.s));
  c.unit = _mm512_set1_ps(kRngUnit);
  c.one = _mm512_set1_ps(1.0f);
  c.k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm512_set1_epi32(0x7fffffff);
  c.mantmask = _mm512_set1_epi32(0x7fffff);
  c.kbias = _mm512_set1_epi32(static_cast<int>(L.s) - 127);
  c.one_i = _mm512_set1_epi32(1);
  c.sshift = _mm_cvtsi32_si128(L.bits - 1);
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(i0 + static_cast<uint32_t>(key))),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    __m512i a = quant16<K>(v + k, idx, c);
    idx = _mm512_add_epi32(idx, sixteen);
    __m512i b = quant16<K>(v + k + 16, idx, c);
    idx = _mm512_add_epi32(idx, sixteen);
    simd::store_bytes32(lv + k, a, b);  // codes <= 255
  }
  for (; k + 16 <= len; k += 16) {
    simd::store_bytes16(lv + k, quant16<K>(v + k, idx, c));
    idx = _mm512_add_epi32(idx, sixteen);
  }
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one<K>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
}

template <int K, int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, const Layout& L, const BucketParams& p, float* o,
                          uint8_t* lv) {
  const int bits = L.bits;
  const __m512 vdec = _mm512_set1_ps(p.dec), vscale = _mm512_set1_ps(p.scale);
  const __m512i lmask = _mm512_set1_epi32((1 << (bits - 1)) - 1);
  const __m512i gbias = _mm512_set1_epi32(127 - static_cast<int>(L.s));
  const __m128i sshift = _mm_cvtsi32_si128(bits - 1);
  const uint8_t* lsrc = bitpack::unpack_source<B>(src, len, bits, lv);
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    const __m512i cd = simd::codes16<B>(lsrc, k);
    const __m512i l = _mm512_and_si512(cd, lmask);
    const __m512i sg = _mm512_slli_epi32(_mm512_srl_epi32(cd, sshift), 31);
    __m512 mag;
    if (K == NUQ) {
      const __m512i g = _mm512_maskz_slli_epi32(_mm512_test_epi32_mask(l, l), _mm512_add_epi32(l, gbias), 23);
      mag = _mm512_mul_ps(vscale, _mm512_castsi512_ps(g));
    } else {
      mag = _mm512_mul_ps(vdec, _mm512_cvtepi32_ps(l));
    }
    __m512 val = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(mag), sg));
    if (kAdd) val = _mm512_add_ps(_mm512_loadu_ps(o + k), val);
    _mm512_storeu_ps(o + k, val);
  }
  for (; k < len; ++k) {
    const float val = dequantize_one<K>(bitpack::code_at(src, k, bits), p, L.s, bits);
    o[k] = kAdd ? o[k] + val : val;
  }
}

#include "qsgd/qsgd_simd_loops.inc"

}  // namespace

bool encode_avx512(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  return encode_kinds(L, x, n, out, key);
}

void decode_avx512(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_kinds(L, in, n, out, add);
}

}  // namespace qsgd
}  // namespace gw
#endif  // GW_QSGD_X86
