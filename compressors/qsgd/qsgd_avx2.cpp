// qsgd / nuq kernels, AVX2 + FMA (8 lanes). Same float operations as the scalar
// reference (qsgd_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

#include "qsgd/qsgd_kernels.h"

#if GW_QSGD_X86
#include <immintrin.h>

#include "common/bitpack_avx2.h"

#define GW_T __attribute__((target("avx2,fma")))
#define GW_TI __attribute__((target("avx2,fma"), always_inline)) inline

namespace gw {
namespace qsgd {
namespace {

// Software prefetch distance of the streaming loops (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

namespace simd = bitpack::avx2;
using bitpack::prefetch_ahead;
using simd::hmax;

// max|v| and "some value is NaN/Inf" of v[0..len), len >= 1. As unsigned
// integers the bits of |v| order like the values, with +Inf (0x7f800000) and the
// NaNs above every finite value: one integer max gives both.
GW_TI void absmax(const float* v, size_t len, float* amax_out, bool* bad_out) {
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
  __m256i m0 = _mm256_setzero_si256(), m1 = m0;
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    if ((k % 32) == 0) prefetch_ahead(v + k, kPrefetchFloats);
    m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + k)), absmask));
    m1 = _mm256_max_epu32(m1,
                          _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + k + 8)), absmask));
  }
  __m256i m = _mm256_max_epu32(m0, m1);
  __m128i h = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  h = _mm_max_epu32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_max_epu32(h, _mm_shuffle_epi32(h, 0xb1));
  uint32_t mb = static_cast<uint32_t>(_mm_cvtsi128_si32(h));
  for (; k < len; ++k) {
    const uint32_t a = f2u(v[k]) & 0x7fffffffu;
    mb = a > mb ? a : mb;
  }
  *bad_out = mb >= 0x7f800000u;
  *amax_out = u2f(mb);
}

// sum over v of bits(fma(v, v, c)) (wrapping uint64; see sumsq_addend).
GW_TI uint64_t sumsq(const float* v, size_t len, double c) {
  const __m256d vc = _mm256_set1_pd(c);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0;
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    __m256d d0 = _mm256_cvtps_pd(_mm_loadu_ps(v + k));
    __m256d d1 = _mm256_cvtps_pd(_mm_loadu_ps(v + k + 4));
    a0 = _mm256_add_epi64(a0, _mm256_castpd_si256(_mm256_fmadd_pd(d0, d0, vc)));
    a1 = _mm256_add_epi64(a1, _mm256_castpd_si256(_mm256_fmadd_pd(d1, d1, vc)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(a0, a1));
  uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; k < len; ++k) sum += sumsq_addend_term(v[k], c);
  return sum;
}

struct QuantConsts {
  __m256 vinv, vs, vz, unit, one;
  __m256i k1, absmask, hbias, one_i, signbit;
};

// The codes of 8 values, as quant16 of qsgd_avx512.cpp (which derives the nuq
// steps); here the sign bit goes in with a blend on the sign of x, psignd giving
// 2^(B-1) where l > 0 and 0 where l = 0.
template <int K, int kNuqB>
GW_TI __m256i quant8(const float* s, __m256i ctr, const QuantConsts& c) {
  const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  const __m256 ax = _mm256_castsi256_ps(_mm256_and_si256(xb, c.absmask));
  const __m256i u24 = _mm256_srli_epi32(rng_u32_avx2_x0(ctr, c.k1), 8);  // ctr = counter + low key half
  __m256i l;
  if (K == NUQ) {
    const __m256 y = _mm256_min_ps(_mm256_mul_ps(ax, c.vinv), c.one);
    __m256i base = c.one_i;  // bits 2: s = 1, y <= 1 = 2^(1-s) everywhere (y = 1 gives l = 1 either way)
    if (kNuqB != 2)
      base = _mm256_srai_epi32(
          _mm256_sub_epi32(_mm256_add_epi32(_mm256_castps_si256(y), c.hbias), _mm256_srli_epi32(u24, 1)), 23);
    if (kNuqB == 8) {
      l = base;
    } else {
      if (kNuqB != 2) base = _mm256_max_epi32(base, c.one_i);
      // base - 1 where u24 >= y * 2^(s+23) (the compare gives -1 there).
      const __m256 ge = _mm256_cmp_ps(_mm256_cvtepi32_ps(u24), _mm256_mul_ps(y, c.vz), _CMP_GE_OQ);
      l = _mm256_add_epi32(base, _mm256_castps_si256(ge));
    }
  } else {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(u24), c.unit);
    l = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_fmadd_ps(ax, c.vinv, u), c.vs));
  }
  const __m256i with_sign = _mm256_or_si256(l, _mm256_sign_epi32(c.signbit, l));
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(l), _mm256_castsi256_ps(with_sign), _mm256_castsi256_ps(xb)));
}

// Byte codes of v[0..len) into lv[0..len).
template <int K, int kNuqB>
GW_TI void quantize_t(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                      uint8_t* lv) {
  QuantConsts c;
  c.vinv = _mm256_set1_ps(p.inv);
  c.vs = _mm256_set1_ps(static_cast<float>(L.s));
  c.vz = _mm256_set1_ps(kNuqB == 8 ? 0.0f : u2f((L.s + 23u + 127u) << 23));  // 2^(s+23), s <= 63 here
  c.unit = _mm256_set1_ps(kRngUnit);
  c.one = _mm256_set1_ps(1.0f);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm256_set1_epi32(0x7fffffff);
  c.hbias = _mm256_set1_epi32((static_cast<int>(L.s) - 127) * (1 << 23) + (1 << 23) - 1);
  c.one_i = _mm256_set1_epi32(1);
  c.signbit = _mm256_set1_epi32(1 << (L.bits - 1));
  const __m256i eight = _mm256_set1_epi32(8);
  __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i0 + static_cast<uint32_t>(key))),
                                 _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    __m256i a = quant8<K, kNuqB>(v + k, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i b = quant8<K, kNuqB>(v + k + 8, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i cc = quant8<K, kNuqB>(v + k + 16, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i d = quant8<K, kNuqB>(v + k + 24, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    simd::store_bytes32(lv + k, a, b, cc, d);
  }
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one<K>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
}

// The codes of v[0..len) packed into dst (lv: scratch for len bytes).
template <int K>
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                    uint8_t* dst, uint8_t* lv) {
  if (L.bits == 8) {
    quantize_t<K, K == NUQ ? 8 : 0>(v, len, p, L, key, i0, dst);
  } else {
    if (K == NUQ && L.bits == 2)
      quantize_t<K, 2>(v, len, p, L, key, i0, lv);
    else
      quantize_t<K, 0>(v, len, p, L, key, i0, lv);
    simd::pack(lv, len, L.bits, dst);
  }
}

template <int K, int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, const Layout& L, const BucketParams& p, float* o,
                          uint8_t* lv) {
  const int bits = L.bits;
  const __m256 vdec = _mm256_set1_ps(p.dec), vscale = _mm256_set1_ps(p.scale);
  const __m256i lmask = _mm256_set1_epi32((1 << (bits - 1)) - 1);
  const __m256i gbias = _mm256_set1_epi32(127 - static_cast<int>(L.s));
  const __m128i sshift = _mm_cvtsi32_si128(bits - 1);
  const __m256i zero = _mm256_setzero_si256();
  const uint8_t* lsrc = bitpack::unpack_source<B>(src, len, bits, lv);
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    const __m256i cd = simd::codes8<B>(lsrc, k);
    const __m256i l = _mm256_and_si256(cd, lmask);
    const __m256i sg = _mm256_slli_epi32(_mm256_srl_epi32(cd, sshift), 31);
    __m256 mag;
    if (K == NUQ) {
      const __m256i g = _mm256_andnot_si256(_mm256_cmpeq_epi32(l, zero),
                                            _mm256_slli_epi32(_mm256_add_epi32(l, gbias), 23));
      mag = _mm256_mul_ps(vscale, _mm256_castsi256_ps(g));
    } else {
      mag = _mm256_mul_ps(vdec, _mm256_cvtepi32_ps(l));
    }
    __m256 val = _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(mag), sg));
    if (kAdd) val = _mm256_add_ps(_mm256_loadu_ps(o + k), val);
    _mm256_storeu_ps(o + k, val);
  }
  for (; k < len; ++k) {
    const float val = dequantize_one<K>(bitpack::code_at(src, k, bits), p, L.s, bits);
    o[k] = kAdd ? o[k] + val : val;
  }
}

#include "qsgd/qsgd_simd_loops.inc"

}  // namespace

bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  return encode_kinds(L, x, n, out, key);
}

void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_kinds(L, in, n, out, add);
}

}  // namespace qsgd
}  // namespace gw
#endif  // GW_QSGD_X86
