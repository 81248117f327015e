// qsgd / nuq kernels, AVX-512 F/BW/VL (16 lanes). Same float operations as the
// scalar reference (qsgd_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "compressors/qsgd/qsgd_kernels.h"

#if GW_QSGD_X86
#include <immintrin.h>

#include "compressors/common/bitpack_avx512.h"

#define GW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define GW_TI __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

namespace gw {
namespace qsgd {
namespace {

// Software prefetch distance of the streaming loops (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

namespace simd = bitpack::avx512;
using bitpack::prefetch_ahead;

// max|v| and "some value is NaN/Inf" of v[0..len), len >= 1. As unsigned
// integers the bits of |v| order like the values, with +Inf (0x7f800000) and the
// NaNs above every finite value: one integer max gives both.
GW_TI void absmax(const float* v, size_t len, float* amax_out, bool* bad_out) {
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
  __m512i m0 = _mm512_setzero_si512(), m1 = m0;
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    prefetch_ahead(v + k, kPrefetchFloats);
    m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(v + k), absmask));
    m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(v + k + 16), absmask));
  }
  uint32_t mb = _mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1));
  for (; k < len; ++k) {
    const uint32_t a = f2u(v[k]) & 0x7fffffffu;
    mb = a > mb ? a : mb;
  }
  *bad_out = mb >= 0x7f800000u;
  *amax_out = u2f(mb);
}

// The sum of the 8 lanes, wrapping mod 2^64. Not _mm512_reduce_add_epi64: GCC
// writes its last steps as signed long long additions, and these sums wrap by
// design (the addends are double bit patterns), which is UB there (UBSan).
GW_TI uint64_t hsum_epi64(__m512i s) {
  const __m256i h = _mm256_add_epi64(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
  __m128i q = _mm_add_epi64(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  q = _mm_add_epi64(q, _mm_unpackhi_epi64(q, q));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(q));
}

// sum over v of bits(fma(v, v, c)) (wrapping uint64; see sumsq_addend).
GW_TI uint64_t sumsq(const float* v, size_t len, double c) {
  const __m512d vc = _mm512_set1_pd(c);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    __m512d d0 = _mm512_cvtps_pd(_mm256_loadu_ps(v + k));
    __m512d d1 = _mm512_cvtps_pd(_mm256_loadu_ps(v + k + 8));
    a0 = _mm512_add_epi64(a0, _mm512_castpd_si512(_mm512_fmadd_pd(d0, d0, vc)));
    a1 = _mm512_add_epi64(a1, _mm512_castpd_si512(_mm512_fmadd_pd(d1, d1, vc)));
  }
  uint64_t sum = hsum_epi64(_mm512_add_epi64(a0, a1));
  for (; k < len; ++k) sum += sumsq_addend_term(v[k], c);
  return sum;
}

// ---- the rounding numbers ------------------------------------------------------
//
// Element i rounds with U_i = rng_sr16(key, i), a half of the pair hash
// rng_u32(key, i >> 1) (common/rng.h). The loops hash 16 pair counters per 32
// elements from an even index, in rng_sr_pair_order_avx512's lane order, and one
// in-lane byte shuffle per 16 elements puts each element's half in its lane: U
// itself for qsgd (rng_sr16_avx512_first / _second), U << 8 for nuq (their <8>
// form: the same shuffle one byte up, for free; see quant16).

struct QuantConsts {
  __m512 vinv, unit, half, lo;
  __m512i k1, h, absmask, signmask, hbias, s32, sb32, s8, sb8, one_i, minus_one;
};

// The signed level q = +-l of 16 values (the sign of x; q = 0 where l = 0),
// |q| <= s + 1 (the clamp to s is applied on the codes, see codes64). rn: U
// (qsgd) or u24 = U << 8 (nuq).
//  - qsgd: the sign goes in before rounding, t = fma(x, s/scale, +-u) with the
//    sign of x on u (exact; fma rounds symmetrically, so t = -fma(|x|, inv, u)
//    for x < 0) and q = trunc(t) = +-trunc(fma(|x|, inv, u)); trunc(min(t, s)) =
//    min(trunc(t), s) for t >= 0, and t < s + 2 here (|x| <= scale).
//  - nuq, y = |x| * inv, not clamped to 1: y > 1 only by rounding (|x| <=
//    scale, and inv = 1/scale rounded is at most 2^-22 above it relatively:
//    y <= 1 + 2^-22), and there the level below is s or s + 1, clamped to s as
//    for y = 1. With u24 = U << 8: u = u24 * 2^-24, and [U * 2^7 < m] = [u24 < 2m].
//    y >= 2^(1-s): l = k + [u24 < 2m] = (2 bits(y) + hbias - u24) >> 24 with
//    hbias = (s - 126) 2^24 - 1: 2 bits(y) = (k + 127 - s) 2^24 + 2m, so the sum
//    is (k + 1) 2^24 + (2m - 1 - u24), the last term in [-2^24, 2^24).
//    y < 2^(1-s): l = [u < z], z = y 2^(s-1) in [0, 1). With w = 1 + z rounded
//    up to a float (a multiple of 2^-23 in [1, 2]) and mw = (w - 1) 2^23 =
//    ceil(z 2^23), [u < z] = [U 2^7 < z 2^23] = [U 2^7 < mw] (U 2^7 an integer)
//    = [u24 < 2 mw], the formula above with bits(w 2^-s) = (127 - s) 2^23 + mw
//    (k = 0, m = mw; mw = 2^23 also gives 1) in place of bits(y). One fma with
//    upward rounding gives w 2^-s = 2^-s + y / 2 (a normal float, s <= 63), and
//    the two branches merge as max(bits(y), bits(w 2^-s)) (integers, as the
//    floats are non-negative): 2^-s + y / 2 >= y exactly where y <= 2^(1-s), and
//    rounding up to a float does not pass y where y is the larger one.
//    bits 8 (s = 127): y < 2^(1-s) means y subnormal, bits(y) = m, k = 0 and
//    [u < y 2^126] = [u24 < 2m]: the shift alone is l everywhere (as unsigned:
//    the sum reaches 2^31 for y > 1 - 2^-24).
template <int K, int kNuqB>
GW_TI __m512i quant16(const float* s, __m512i rn, const QuantConsts& c) {
  const __m512i xb = _mm512_loadu_si512(s);
  if (K != NUQ) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(rn), c.unit);
    const __m512 su = _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(_mm512_castps_si512(u), xb, c.signmask, 0xf8));  // u | (xb & sign)
    return _mm512_cvttps_epi32(_mm512_fmadd_ps(_mm512_castsi512_ps(xb), c.vinv, su));
  }
  const __m512i u24 = rn;
  const __m512 y = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_and_si512(xb, c.absmask)), c.vinv);
  const __mmask16 neg = _mm512_cmplt_epi32_mask(xb, _mm512_setzero_si512());
  if (kNuqB == 2) {  // s = 1: l = [u < y] = [u24 < y 2^24] (exact; 1 where y >= 1, as for y = 1)
    const __mmask16 lt = _mm512_cmp_ps_mask(_mm512_cvtepi32_ps(u24), _mm512_mul_ps(y, c.lo), _CMP_LT_OQ);
    return _mm512_maskz_mov_epi32(lt, _mm512_mask_mov_epi32(c.one_i, neg, c.minus_one));
  }
  __m512i z = _mm512_castps_si512(y);
  if (kNuqB != 8)
    z = _mm512_max_epi32(
        z, _mm512_castps_si512(_mm512_fmadd_round_ps(y, c.half, c.lo, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)));
  const __m512i sum = _mm512_sub_epi32(_mm512_add_epi32(_mm512_add_epi32(z, z), c.hbias), u24);
  const __m512i l = kNuqB == 8 ? _mm512_srli_epi32(sum, 24) : _mm512_srai_epi32(sum, 24);
  return _mm512_mask_sub_epi32(l, neg, _mm512_setzero_si512(), l);
}

// The codes of 16 signed levels, as int32: min(|q|, s), the sign bit where q < 0.
GW_TI __m512i codes16(__m512i q, const QuantConsts& c) {
  const __m512i m = _mm512_min_epu32(_mm512_abs_epi32(q), c.s32);
  return _mm512_mask_or_epi32(m, _mm512_cmplt_epi32_mask(q, _mm512_setzero_si512()), m, c.sb32);
}

// The codes of 64 signed levels, as bytes in order: q narrowed to signed bytes
// (saturating: |q| <= 128), then min(|q|, s) with the sign bit where q < 0.
GW_TI __m512i codes64(__m512i a, __m512i b, __m512i cc, __m512i d, const QuantConsts& c) {
  // lane j: a[4j..4j+3] b[4j..4j+3] cc[4j..4j+3] d[4j..4j+3]
  __m512i q = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(cc, d));
  q = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), q);
  const __m512i m = _mm512_min_epu8(_mm512_abs_epi8(q), c.s8);
  return _mm512_mask_add_epi8(m, _mm512_movepi8_mask(q), m, c.sb8);  // m < sb8: the add is an or
}

// rng_u32 on 16 lanes (rng_u32_avx512_x0 of common/rng.h) from x0 = counter +
// low key half; kFast: with the first step x0 ^ (x0 >> 16) as x0 ^ c.h, where
// c.h = x0 >> 16 is the same for every counter of the call (quantize_t checks).
template <bool kFast>
GW_TI __m512i rng16(__m512i x0, const QuantConsts& c) {
  return kFast ? rng_u32_avx512_x1(_mm512_xor_si512(x0, c.h), c.k1) : rng_u32_avx512_x0(x0, c.k1);
}

// The signed levels of 32 values from an even element index: one 16-lane hash
// of the pair counters x0 (plus the low key half).
template <int K, int kNuqB, bool kFast>
GW_TI void quant32(const float* s, __m512i x0, const QuantConsts& c, __m512i& a, __m512i& b) {
  const __m512i h = rng16<kFast>(x0, c);
  a = quant16<K, kNuqB>(s, rng_sr16_avx512_first<K == NUQ ? 8 : 0>(h), c);
  b = quant16<K, kNuqB>(s + 16, rng_sr16_avx512_second<K == NUQ ? 8 : 0>(h), c);
}

// The codes of v[0..len) packed at B bits into dst (B = 8, 4, 2 packed 64 at a
// time in registers; B = 0: any width, as bytes in lv, then simd::pack). The
// codes after the last full 64 go through lv and the scalar packer. Element
// indices i0.. (no wrap past 2^32); an odd i0 only with B = 0.
template <int K, int kNuqB, int B, bool kFast>
GW_TI void quantize_h(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                      uint8_t* dst, uint8_t* lv) {
  QuantConsts c;
  c.vinv = _mm512_set1_ps(p.inv);
  c.unit = _mm512_set1_ps(kSrUnit);
  c.half = _mm512_set1_ps(0.5f);
  // 2^-s (s <= 63 here); nuq bits 2: 2^24
  c.lo = _mm512_set1_ps(kNuqB == 8 ? 0.0f : kNuqB == 2 ? 16777216.0f : u2f((127u - L.s) << 23));
  c.one_i = _mm512_set1_epi32(1);
  c.minus_one = _mm512_set1_epi32(-1);
  c.k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm512_set1_epi32(0x7fffffff);
  c.signmask = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  c.hbias = _mm512_set1_epi32(static_cast<int>((L.s - 126u) << 24) - 1);  // (s - 126) 2^24 - 1, mod 2^32
  c.s32 = _mm512_set1_epi32(static_cast<int>(L.s));
  c.sb32 = _mm512_set1_epi32(1 << (L.bits - 1));
  c.s8 = _mm512_set1_epi8(static_cast<char>(L.s));
  c.sb8 = _mm512_set1_epi8(static_cast<char>(1u << (L.bits - 1)));
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  size_t k = 0;
  if (B == 0 && (i0 & 1u) != 0 && len > 0) {  // an odd start (odd bucket sizes): its element is a pair's high half
    lv[0] = static_cast<uint8_t>(quantize_one<K>(v[0], p, L.s, sf, c_lo, L.bits, key, i0));
    k = 1;
  }
  const __m512i sixteen = _mm512_set1_epi32(16);
  const uint32_t xs = ((i0 + static_cast<uint32_t>(k)) >> 1) + static_cast<uint32_t>(key);
  c.h = _mm512_set1_epi32(static_cast<int>(xs >> 16));
  __m512i x0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(xs)), rng_sr_pair_order_avx512());
  for (; k + 64 <= len; k += 64) {
    __m512i q[4];
    quant32<K, kNuqB, kFast>(v + k, x0, c, q[0], q[1]);
    x0 = _mm512_add_epi32(x0, sixteen);
    quant32<K, kNuqB, kFast>(v + k + 32, x0, c, q[2], q[3]);
    x0 = _mm512_add_epi32(x0, sixteen);
    const __m512i bytes = codes64(q[0], q[1], q[2], q[3], c);
    if constexpr (B == 0)
      _mm512_storeu_si512(lv + k, bytes);
    else
      simd::pack64<B>(bytes, dst + k * B / 8);
  }
  const size_t k64 = k;
  if (k + 16 <= len) {  // 16 to 63 left: up to two more hashes
    for (; k + 32 <= len; k += 32) {
      __m512i a, b;
      quant32<K, kNuqB, kFast>(v + k, x0, c, a, b);
      x0 = _mm512_add_epi32(x0, sixteen);
      simd::store_bytes16(lv + k, codes16(a, c));
      simd::store_bytes16(lv + k + 16, codes16(b, c));
    }
    if (k + 16 <= len) {
      const __m512i h = rng16<kFast>(x0, c);
      simd::store_bytes16(lv + k, codes16(quant16<K, kNuqB>(v + k, rng_sr16_avx512_first<K == NUQ ? 8 : 0>(h), c), c));
      k += 16;
    }
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one<K>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
  if (B == 0)
    simd::pack(lv, len, L.bits, dst);
  else
    bitpack::pack(lv + k64, len - k64, B, dst + k64 * B / 8);
}

// quantize_h with kFast where the counters it hashes (16 per 32 values from the
// first even index, the last block rounded up) share their high 16 bits.
template <int K, int kNuqB, int B>
GW_TI void quantize_t(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                      uint8_t* dst, uint8_t* lv) {
  const size_t k0 = (B == 0 && (i0 & 1u) != 0) ? 1 : 0;
  const uint32_t xs = ((i0 + static_cast<uint32_t>(k0)) >> 1) + static_cast<uint32_t>(key);
  const uint32_t last = xs + static_cast<uint32_t>((len - k0 + 31) / 32 * 16) - 1u;
  if (len >= k0 + 16 && (xs >> 16) == (last >> 16))
    quantize_h<K, kNuqB, B, true>(v, len, p, L, key, i0, dst, lv);
  else
    quantize_h<K, kNuqB, B, false>(v, len, p, L, key, i0, dst, lv);
}

// The codes of v[0..len) packed into dst (lv: scratch for len bytes).
template <int K>
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                    uint8_t* dst, uint8_t* lv) {
  if (rng_sr_wraps(i0, len)) return quantize_codes_scalar<K>(v, len, p, L, key, i0, dst, lv);
  const bool odd = (i0 & 1u) != 0;  // the in-register packers take 64 codes from an even start only
  switch (odd ? 0 : L.bits) {
    case 8:
      quantize_t<K, K == NUQ ? 8 : 0, 8>(v, len, p, L, key, i0, dst, lv);
      break;
    case 4:
      quantize_t<K, 0, 4>(v, len, p, L, key, i0, dst, lv);
      break;
    case 2:
      quantize_t<K, K == NUQ ? 2 : 0, 2>(v, len, p, L, key, i0, dst, lv);
      break;
    default:
      if (K == NUQ && L.bits == 8)
        quantize_t<K, 8, 0>(v, len, p, L, key, i0, dst, lv);
      else if (K == NUQ && L.bits == 2)
        quantize_t<K, 2, 0>(v, len, p, L, key, i0, dst, lv);
      else
        quantize_t<K, 0, 0>(v, len, p, L, key, i0, dst, lv);
  }
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

#include "compressors/qsgd/qsgd_simd_loops.inc"

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
