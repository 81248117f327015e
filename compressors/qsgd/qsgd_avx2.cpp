// qsgd / nuq kernels, AVX2 + FMA (8 lanes). Same float operations as the scalar
// reference (qsgd_kernels.h), so the payload and decoded bits are identical.
// encode_avx2 runs the pipelined encode below for buckets of a multiple of 64
// values, the per-bucket loops of qsgd_simd_loops.inc otherwise.
#include <algorithm>

#include "compressors/qsgd/qsgd_kernels.h"

#if GW_QSGD_X86
#include <immintrin.h>

#include "compressors/common/bitpack_avx2.h"

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

// ---- the rounding numbers ------------------------------------------------------
//
// Element i rounds with U_i = rng_sr16(key, i), a half of the pair hash
// rng_u32(key, i >> 1) (common/rng.h). The loops hash 8 pair counters per 16
// elements from an even index, in rng_sr_pair_order_avx2's lane order, and one
// in-lane byte shuffle per 8 elements puts each element's half in its lane:
// U itself for qsgd (rng_sr16_avx2_first / _second), U << 8 for nuq (their
// <8> form: the same shuffle one byte up, for free). nuq's steps below were
// written for a 24-bit u24 with u = u24 * 2^-24 and l = k + [u24 < 2m], and
// u24 = U << 8 satisfies both (u = U * 2^-16, [U * 2^8 < 2m] = [U * 2^7 < m]).

// The counters (plus the low key half) of the first 16 elements from an even
// element index e: the pair counters e/2 + rng_sr_pair_order_avx2(); step 8 per
// 16 elements.
GW_TI __m256i sr_x0(uint32_t e, uint32_t klo) {
  return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>((e >> 1) + klo)), rng_sr_pair_order_avx2());
}

struct QuantConsts {
  __m256 vinv, vs, vz, unit, one;
  __m256i k1, absmask, hbias, one_i, signbit;
};

// The codes of 8 values (the plain loops; the pipelined encode below has its own
// steps). rn: U (qsgd) or u24 = U << 8 (nuq, rng_sr16_avx2_first<8>).
//  - nuq, y = min(|x| * inv, 1): base = (2 bits(y) + hbias - u24) >> 24 is
//    k + [u24 < 2m] where y >= 2^(1-s) (hbias = (s - 126) 2^24 - 1, see quant16
//    of qsgd_avx512.cpp) and at most 1 below, so max(base, 1) is l above and 1
//    below; below, l = [u < y 2^(s-1)] = 1 - [u24 >= y 2^(s+23)] (u24 and the
//    product exact, the product >= 2^24 > u24 above). bits 8 (s = 127): y <
//    2^(1-s) only where y is subnormal, bits(y) = m, k = 0 and [u < y 2^126] =
//    [u24 < 2m]: the shift alone is l. bits 2 (s = 1): y <= 1 = 2^(1-s)
//    everywhere, and y = 1 gives l = 1 either way: base = 1.
//  - the sign bit goes in with a blend on the sign of x, psignd giving 2^(B-1)
//    where l > 0 and 0 where l = 0.
template <int K, int kNuqB>
GW_TI __m256i quant8(const float* s, __m256i rn, const QuantConsts& c) {
  const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  const __m256 ax = _mm256_castsi256_ps(_mm256_and_si256(xb, c.absmask));
  __m256i l;
  if (K == NUQ) {
    const __m256i u24 = rn;
    const __m256 y = _mm256_min_ps(_mm256_mul_ps(ax, c.vinv), c.one);
    __m256i base = c.one_i;
    if (kNuqB != 2) {
      const __m256i yb = _mm256_castps_si256(y);  // y <= 1: no overflow
      base = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(yb, yb), c.hbias), u24), 24);
    }
    if (kNuqB == 8) {
      l = base;
    } else {
      if (kNuqB != 2) base = _mm256_max_epi32(base, c.one_i);
      // base - 1 where u24 >= y * 2^(s+23) (the compare gives -1 there).
      const __m256 ge = _mm256_cmp_ps(_mm256_cvtepi32_ps(u24), _mm256_mul_ps(y, c.vz), _CMP_GE_OQ);
      l = _mm256_add_epi32(base, _mm256_castps_si256(ge));
    }
  } else {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(rn), c.unit);
    l = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_fmadd_ps(ax, c.vinv, u), c.vs));
  }
  const __m256i with_sign = _mm256_or_si256(l, _mm256_sign_epi32(c.signbit, l));
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(l), _mm256_castsi256_ps(with_sign), _mm256_castsi256_ps(xb)));
}

// The codes of 16 values from an even element index: one 8-lane hash.
template <int K, int kNuqB>
GW_TI void quant16(const float* s, __m256i x0, const QuantConsts& c, __m256i& a, __m256i& b) {
  const __m256i h = rng_u32_avx2_x0(x0, c.k1);
  a = quant8<K, kNuqB>(s, rng_sr16_avx2_first<K == NUQ ? 8 : 0>(h), c);
  b = quant8<K, kNuqB>(s + 8, rng_sr16_avx2_second<K == NUQ ? 8 : 0>(h), c);
}

// Byte codes of v[0..len) into lv[0..len) (element indices i0.., no wrap past 2^32).
template <int K, int kNuqB>
GW_TI void quantize_t(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                      uint8_t* lv) {
  QuantConsts c;
  c.vinv = _mm256_set1_ps(p.inv);
  c.vs = _mm256_set1_ps(static_cast<float>(L.s));
  c.vz = _mm256_set1_ps(kNuqB == 8 ? 0.0f : u2f((L.s + 23u + 127u) << 23));  // 2^(s+23), s <= 63 here
  c.unit = _mm256_set1_ps(kSrUnit);
  c.one = _mm256_set1_ps(1.0f);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm256_set1_epi32(0x7fffffff);
  c.hbias = _mm256_set1_epi32(2 * ((static_cast<int>(L.s) - 126) * (1 << 23) - 1) + 1);  // (s - 126) 2^24 - 1
  c.one_i = _mm256_set1_epi32(1);
  c.signbit = _mm256_set1_epi32(1 << (L.bits - 1));
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  size_t k = 0;
  if ((i0 & 1u) != 0 && len > 0) {  // an odd start (odd bucket sizes): its element is a pair's high half
    lv[0] = static_cast<uint8_t>(quantize_one<K>(v[0], p, L.s, sf, c_lo, L.bits, key, i0));
    k = 1;
  }
  const __m256i eight = _mm256_set1_epi32(8);
  __m256i x0 = sr_x0(i0 + static_cast<uint32_t>(k), static_cast<uint32_t>(key));
  for (; k + 32 <= len; k += 32) {
    __m256i a, b, cc, d;
    quant16<K, kNuqB>(v + k, x0, c, a, b);
    x0 = _mm256_add_epi32(x0, eight);
    quant16<K, kNuqB>(v + k + 16, x0, c, cc, d);
    x0 = _mm256_add_epi32(x0, eight);
    simd::store_bytes32(lv + k, a, b, cc, d);
  }
  if (k + 16 <= len) {
    __m256i a, b;
    quant16<K, kNuqB>(v + k, x0, c, a, b);
    const __m256i w = _mm256_packus_epi32(a, b);  // words: a0-3 b0-3 | a4-7 b4-7
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lv + k), _mm_shuffle_epi32(bytes, 0xd8));
    k += 16;
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one<K>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
}

// The codes of v[0..len) packed into dst (lv: scratch for len bytes).
template <int K>
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                    uint8_t* dst, uint8_t* lv) {
  if (rng_sr_wraps(i0, len)) return quantize_codes_scalar<K>(v, len, p, L, key, i0, dst, lv);
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

// ---- the pipelined encode (buckets of a multiple of 64 values) --------------------
//
// Three passes per bucket (max |v|, sum of squares, codes) each depend on the
// previous one's horizontal reduction and scalar bucket math (exponent, sqrt,
// divide). Run one after the other per bucket, those latencies stall the 8-lane
// kernel; here one loop does max |v| of bucket j+2, the sum of squares of bucket
// j+1 and the codes of bucket j (qsgd norm=max: max of j+1, codes of j), so every
// reduction has a bucket's worth of independent work to hide behind.
//
// Per value, the codes path keeps the slow ports (shifts and converts, two of the
// four vector pipes on Zen 4/5) free where it can:
//  - qsgd: the sign goes in before rounding: t = fma(x, s/scale, +-u) with the
//    sign of x on u (psignd on U: exact, and fma rounds symmetrically, so
//    t = -fma(|x|, inv, u) for x < 0); q = trunc(t) is then +-trunc(fma(|x|,
//    inv, u)) and the clamp min(., s) is applied to |q| as bytes (trunc(min(t, s))
//    = min(trunc(t), s) for t >= 0: |t| < s + 2 here, since |x| <= scale).
//  - nuq: q = +-l (psignd), y not clamped to 1 (the levels are, as bytes); the
//    low branch's compare and the shifted high-branch formula side by side, y
//    raised to 2^(1-s) for the latter (qlevel8). Bits 2: the compare alone.
//  - codes: q narrowed to signed bytes (saturating), code = min(|q|, s) with the
//    sign bit where q < 0 (blend on q's byte sign), then packed by multiply-adds.
//  - the random numbers: one 8-lane hash of pair counters per 16 values, split
//    by two byte shuffles (rng_sr16_avx2_first / _second), hashed one block of 64 values
//    ahead (across buckets too: each pass leaves the next bucket's first four).
//    In the hash, x0 ^ (x0 >> 16) is x0 ^ H with H = x0 >> 16 the same for the
//    whole bucket unless its pair counters plus the low key half, the 32 hashed
//    ahead included, cross a multiple of 2^16 (checked per bucket; S/2 + 32
//    counters a bucket: about one bucket in 228 takes the shift at S = 512).
//  - the sum of squares: bits(fma(v, v, C)) chained over 4 values per lane (see
//    sumsq_addend: C + the rounded terms stays in [C, 2C), where doubles are 1/P
//    apart, so each step adds its exact integer term): one 64-bit add per 4 values.

// The pipelined encode below is compiled with GCC's pressure-aware scheduler
// before register allocation (not run on x86 by default). Without it each
// 8-value chain of the codes loop (~20-25 dependent ops) is emitted in source
// order, one chain after the other, and the out-of-order window holds too few
// independent ops to keep the four vector pipes busy (~3 instructions per cycle
// by count and timing). Interleaved: encode 7-14% faster in cache (qsgd and
// nuq, bits 2/4/8), for a few more spills in the nuq loop (38 -> 52 stack
// references per 64 values). Only these functions: the rest of the file is as before.
#if defined(__GNUC__) && !defined(__clang__)
#define GW_SCHED_PUSH _Pragma("GCC push_options") _Pragma("GCC optimize(\"schedule-insns\", \"sched-pressure\")")
#define GW_SCHED_POP _Pragma("GCC pop_options")
#else
#define GW_SCHED_PUSH
#define GW_SCHED_POP
#endif

GW_SCHED_PUSH

struct PipeConsts {
  __m256 vinv, unit, uz;
  __m256i k1, h, absmask, hbias, ylo, s8, sb8;
};

template <bool kFast>
GW_TI __m256i rng8(__m256i x0, const PipeConsts& c) {
  return kFast ? rng_u32_avx2_x1(_mm256_xor_si256(x0, c.h), c.k1) : rng_u32_avx2_x0(x0, c.k1);
}

// Signed level q of 8 values: +-l, the sign of x (0 where x = +0, where l = 0).
// rn: U (qsgd) or u24 = U << 8 (nuq), rng_sr16_avx2_first<8>.
template <int K, int kNuqB>
GW_TI __m256i qlevel8(const float* s, __m256i rn, const PipeConsts& c) {
  const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  if (K != NUQ) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sign_epi32(rn, xb)), c.unit);
    return _mm256_cvttps_epi32(_mm256_fmadd_ps(_mm256_castsi256_ps(xb), c.vinv, u));
  }
  const __m256i u24 = rn;
  const __m256 ax = _mm256_castsi256_ps(_mm256_and_si256(xb, c.absmask));
  // y = |x| * inv, not clamped to 1 here: the levels are clamped to s as bytes
  // (codes32). y > 1 only by rounding (|x| <= scale, and inv = 1/scale rounded
  // is at most 2^-22 above it relatively, 2^-24 where normal: y <= 1 + 2^-22),
  // and there min(l, s) = s as with y = 1: k = s, k + [u24 < 2m] is s or s + 1,
  // and the compare below is true either way.
  const __m256i yb = _mm256_castps_si256(_mm256_mul_ps(ax, c.vinv));
  // k' = (bits(y) + hbias - u24 / 2) >> 23 = k + [u24 < 2m], hbias = (s - 126)
  // 2^23 - 1 (see quant16 of qsgd_avx512.cpp), taken as (2 bits(y) + 2 hbias + 1
  // - u24) >> 24 (u24 even: the same floor). bits(y) <= 0x3f800002: no signed
  // overflow for s <= 63; for bits 8 (2 hbias + 1 = 2^24 - 1) the sum is below
  // 2^32 and not negative, shifted as unsigned (k' <= 128, clamped as bytes).
  __m256i l;
  if (kNuqB == 8) {
    l = _mm256_srli_epi32(_mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(yb, yb), c.hbias), u24), 24);
  } else if (kNuqB == 2) {
    // s = 1: l = [u24 < y * 2^24] (1 where y >= 1, see above), from the compare
    // mask (-1 where true): returned as -q, the signed level negated (codes32).
    const __m256i lt = _mm256_cmpgt_epi32(yb, _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(u24), c.uz)));
    return _mm256_sign_epi32(lt, xb);
  } else {
    // l = max(k', 1) - 1 + [u24 < y * 2^(s+23)], k' as for bits 8. The compare as
    // y > u24 * 2^-(s+23) (exact: float(u24) is, and the product is >= 2^-86 or 0),
    // on the bits of the non-negative floats as signed integers.
    const __m256i lt = _mm256_cmpgt_epi32(yb, _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(u24), c.uz)));
    // max(k', 1) - 1 = max(k' - 1, 0), k' - 1 taken as (2 (bits(y) + hbias - 2^23)
    // + 1 - u24) >> 24 as for bits 8 (hbias less 2^23), with y raised to 2^(1-s)
    // first (k = 1, m = 0: k' - 1 = 0; y >= 2^(1-s) unchanged): no max after the
    // shift, off the compare's path; no overflow, s <= 63 here.
    const __m256i yc = _mm256_max_epi32(yb, c.ylo);
    const __m256i bm1 =
        _mm256_srai_epi32(_mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(yc, yc), c.hbias), u24), 24);
    l = _mm256_sub_epi32(bm1, lt);
  }
  return _mm256_sign_epi32(l, xb);
}

// Codes of 32 signed levels (scrambled byte order, see simd::narrow32_scrambled).
// qsgd: |q| <= s + 1 before the clamp, nuq: |q| <= 128 (saturated to 127 or
// -128, which abs leaves as 128 unsigned). nuq bits 2: the inputs are -q, q in
// {-1, 0, 1}, and the code (q = 1: 1, q = -1: 3, q = 0: 0) is (-q) & 3.
template <int K, int kNuqB>
GW_TI __m256i codes32(__m256i a, __m256i b, __m256i cc, __m256i d, const PipeConsts& c) {
  const __m256i q = simd::narrow32_scrambled(a, b, cc, d);
  if (K == NUQ && kNuqB == 2) return _mm256_and_si256(_mm256_sub_epi8(_mm256_setzero_si256(), q), c.s8);
  const __m256i m = _mm256_min_epu8(_mm256_abs_epi8(q), c.s8);
  return _mm256_blendv_epi8(m, _mm256_or_si256(m, c.sb8), q);
}

// The three stages on one block of 64 values each.
GW_TI void absmax64(const float* v, __m256i& m0, __m256i& m1, const __m256i absmask) {
  prefetch_ahead(v, kPrefetchFloats);
  prefetch_ahead(v + 32, kPrefetchFloats);
  for (int h = 0; h < 8; h += 2) {
    m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 8 * h)), absmask));
    m1 = _mm256_max_epu32(m1,
                          _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 8 * h + 8)), absmask));
  }
}

GW_TI void sumsq64(const float* v, __m256d vc, __m256i& s0, __m256i& s1) {
  for (int ch = 0; ch < 4; ++ch) {
    __m256d acc = vc;
    for (int i = 0; i < 4; ++i) {
      const __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(v + 16 * ch + 4 * i));
      acc = _mm256_fmadd_pd(d, d, acc);
    }
    if (ch & 1)
      s1 = _mm256_add_epi64(s1, _mm256_castpd_si256(acc));
    else
      s0 = _mm256_add_epi64(s0, _mm256_castpd_si256(acc));
  }
}

// The hashes of 64 values: idx = their pair counters (plus the low key half).
template <bool kFast>
GW_TI void hash64(__m256i idx, const PipeConsts& c, __m256i* h) {
  const __m256i eight = _mm256_set1_epi32(8);
  for (int g = 0; g < 4; ++g) {
    h[g] = rng8<kFast>(idx, c);
    idx = _mm256_add_epi32(idx, eight);
  }
}

// The codes of 64 values from their hashes hn; hn then gets the next 64's
// (hashed one block ahead: the hash's chain of ~10 dependent ops, two of them
// multiplies, is then off the path of the codes).
template <int K, int kNuqB, int B, bool kFast>
GW_TI void codes64(const float* v, __m256i& idx, __m256i* hn, const PipeConsts& c, uint8_t* out) {
  const __m256i eight = _mm256_set1_epi32(8);
  __m256i q[8];
  for (int g = 0; g < 4; ++g) {
    const __m256i h = hn[g];
    hn[g] = rng8<kFast>(idx, c);
    idx = _mm256_add_epi32(idx, eight);
    q[2 * g] = qlevel8<K, kNuqB>(v + 16 * g, rng_sr16_avx2_first<K == NUQ ? 8 : 0>(h), c);
    q[2 * g + 1] = qlevel8<K, kNuqB>(v + 16 * g + 8, rng_sr16_avx2_second<K == NUQ ? 8 : 0>(h), c);
  }
  const __m256i x = codes32<K, kNuqB>(q[0], q[1], q[2], q[3], c);
  const __m256i y = codes32<K, kNuqB>(q[4], q[5], q[6], q[7], c);
  if (B == 4 || B == 2) {
    simd::pack64_scrambled<B>(x, y, out);
  } else {  // B == 8 (out = packed run) or bytes for simd::pack (out = lv)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), simd::unscramble32(x));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), simd::unscramble32(y));
  }
}

GW_TI uint32_t hmax_epu32(__m256i m) {
  __m128i h = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  h = _mm_max_epu32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_max_epu32(h, _mm_shuffle_epi32(h, 0xb1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(h));
}
GW_TI uint64_t hsum_epi64(__m256i s) {
  __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  h = _mm_add_epi64(h, _mm_unpackhi_epi64(h, h));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(h));
}

GW_TI uint64_t u2d_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

// One pass over the blocks of a bucket (len a multiple of 64): each stage that
// is on works on its own bucket. Codes go to out (B = 8, 4, 2) or lv (other B).
// hn: the hashes of the bucket's first 64 values (idx: the next 64's counters),
// left holding those of the 64 after the bucket.
template <int K, int kNuqB, int B, bool kA, bool kB, bool kC, bool kFast>
GW_TI void pass(size_t len, const float* va, uint32_t* amax_bits, const float* vb, double cb, uint64_t* sum,
                const float* vc, const PipeConsts& c, __m256i idx, __m256i* hn, uint8_t* out) {
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
  __m256i m0 = _mm256_setzero_si256(), m1 = m0, s0 = m0, s1 = m0;
  const __m256d vcb = _mm256_set1_pd(cb);
  __m256i h[4];
  if (kC)
    for (int g = 0; g < 4; ++g) h[g] = hn[g];
  for (size_t k = 0; k < len; k += 64) {
    if (kA) absmax64(va + k, m0, m1, absmask);
    if (kB) sumsq64(vb + k, vcb, s0, s1);
    if (kC) codes64<K, kNuqB, B, kFast>(vc + k, idx, h, c, out + (B == 0 ? k : k * B / 8));
  }
  if (kC)
    for (int g = 0; g < 4; ++g) hn[g] = h[g];
  if (kA) *amax_bits = hmax_epu32(_mm256_max_epu32(m0, m1));
  if (kB) *sum = hsum_epi64(_mm256_add_epi64(s0, s1)) - (len / 4) * u2d_bits(cb);
}

GW_SCHED_POP
#include "compressors/qsgd/qsgd_simd_loops.inc"
GW_SCHED_PUSH

template <int K, int kNuqB, int B, bool kA, bool kB, bool kC>
GW_TI void pass_c(bool fast, size_t len, const float* va, uint32_t* amax_bits, const float* vb, double cb,
                  uint64_t* sum, const float* vc, const PipeConsts& c, __m256i idx, __m256i* hn, uint8_t* out) {
  if (kC && fast)
    pass<K, kNuqB, B, kA, kB, kC, true>(len, va, amax_bits, vb, cb, sum, vc, c, idx, hn, out);
  else
    pass<K, kNuqB, B, kA, kB, kC, false>(len, va, amax_bits, vb, cb, sum, vc, c, idx, hn, out);
}

// One bucket the plain way (the last, partial one): as encode_t of qsgd_simd_loops.inc.
template <int K>
GW_TI bool encode_bucket_plain(const Layout& L, const float* x, size_t n, size_t j, uint8_t* out, uint64_t key,
                               uint8_t* lv) {
  const size_t nb = L.num_buckets(n);
  const size_t i0 = j * L.bucket;
  const size_t len = std::min(L.bucket, n - i0);
  const float* v = x + i0;
  float amax;
  bool bad;
  absmax(v, len, &amax, &bad);
  float raw = amax;
  if (!bad && K != QSGD_MAX) {
    const int e = amax_exponent(amax);
    raw = l2_from_sum(sumsq(v, len, sumsq_addend(e)) - len * sumsq_addend_bits(e), e);
  }
  const BucketParams p = bucket_params(static_cast<Kind>(K), raw, bad, L.s);
  memcpy(out + 4 * j, &p.scale, 4);
  uint8_t* dst = out + 4 * nb + j * L.packed_bucket;
  if (bad) {
    memset(dst, 0, L.packed_bytes(len));
    return true;
  }
  quantize<K>(v, len, p, L, key, static_cast<uint32_t>(i0), dst, lv);
  return false;
}

template <int K, int kNuqB, int B>
GW_T bool encode_pipe(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  constexpr int D = K == QSGD_MAX ? 1 : 2;  // stages behind the max |v| one
  const size_t S = L.bucket, nf = n / S, nb = L.num_buckets(n);
  uint8_t* codes_base = out + 4 * nb;
  alignas(64) uint8_t lv[8192 + 64];
  PipeConsts c{};
  c.unit = _mm256_set1_ps(kSrUnit);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm256_set1_epi32(0x7fffffff);
  // nuq: 2 hbias + 1 for bits 8 (hbias = (s - 126) 2^23 - 1), 2 (hbias - 2^23) + 1
  // otherwise (see qlevel8)
  c.hbias = _mm256_set1_epi32(kNuqB == 8 ? 2 * ((static_cast<int>(L.s) - 126) * (1 << 23) - 1) + 1
                                         : 2 * ((static_cast<int>(L.s) - 127) * (1 << 23) - 1) + 1);
  c.uz = _mm256_set1_ps(kNuqB == 8 ? 0.0f : u2f((127u - 23u - L.s) << 23));  // 2^-(s+23), s <= 63 here
  c.ylo = _mm256_set1_epi32(static_cast<int>((128u - L.s) << 23));  // bits(2^(1-s))
  c.s8 = _mm256_set1_epi8(static_cast<char>(K == NUQ && kNuqB == 2 ? 3 : L.s));
  c.sb8 = _mm256_set1_epi8(static_cast<char>(1u << (L.bits - 1)));
  const uint32_t klo = static_cast<uint32_t>(key);
  // Per bucket, in a ring of 3: max |v| bits, exponent e, addend C, parameters.
  uint32_t amax_bits[3] = {0, 0, 0};
  int ex[3] = {0, 0, 0};
  double cadd[3] = {0, 0, 0};
  BucketParams par[3];
  bool badr[3] = {false, false, false};
  bool any_bad = false;
  // The hashes of the next codes bucket's first 64 values (each pass leaves
  // them), valid when hn_x0 is that bucket's first counter plus the low key half.
  __m256i hn[4] = {};
  bool hn_ok = false;
  uint32_t hn_x0 = 0;
  for (size_t t = 0; t < nf + D; ++t) {
    const bool hasA = t < nf;
    const bool hasB = D == 2 && t >= 1 && t - 1 < nf;
    const bool hasC = t >= static_cast<size_t>(D);
    const size_t jb = t - 1, jc = t - D;
    const float* va = x + t * S;
    const float* vb = x + jb * S;
    const float* vcp = x + jc * S;
    uint32_t* ab = &amax_bits[t % 3];
    const double cb = hasB ? cadd[jb % 3] : 0.0;
    uint64_t sum = 0;
    bool fast = false, wrapc = false;
    __m256i idx = _mm256_setzero_si256();
    uint8_t* dst = codes_base + jc * L.packed_bucket;
    uint8_t* cout = B == 0 ? lv : dst;
    if (hasC) {
      const BucketParams& p = par[jc % 3];
      c.vinv = _mm256_set1_ps(p.inv);
      // The bucket's S/2 pair counters (S even) plus the low key half: x0 ..
      // x0 + S/2 - 1 (mod 2^32), and 32 more hashed ahead for the next bucket.
      const uint32_t i0 = static_cast<uint32_t>(jc * S);
      const uint32_t x0 = (i0 >> 1) + klo;
      fast = (x0 >> 16) == ((x0 + static_cast<uint32_t>(S / 2) + 31u) >> 16);
      wrapc = rng_sr_wraps(i0, S);
      c.h = _mm256_set1_epi32(static_cast<int>(x0 >> 16));
      idx = sr_x0(i0, klo);
      if (!hn_ok || hn_x0 != x0) hash64<false>(idx, c, hn);
      idx = _mm256_add_epi32(idx, _mm256_set1_epi32(32));
      hn_ok = true;
      hn_x0 = x0 + static_cast<uint32_t>(S / 2);
    }
    const int mask = (hasA ? 4 : 0) | (hasB ? 2 : 0) | (hasC ? 1 : 0);
#define GW_PASS(a, b, cc) \
  pass_c<K, kNuqB, B, a, b, cc>(fast, S, va, ab, vb, cb, &sum, vcp, c, idx, hn, cout)
    switch (mask) {
      case 7: GW_PASS(true, true, true); break;
      case 6: GW_PASS(true, true, false); break;
      case 5: GW_PASS(true, false, true); break;
      case 4: GW_PASS(true, false, false); break;
      case 3: GW_PASS(false, true, true); break;
      case 2: GW_PASS(false, true, false); break;
      case 1: GW_PASS(false, false, true); break;
      default: break;
    }
#undef GW_PASS
    if (hasA) {
      const int r = t % 3;
      badr[r] = amax_bits[r] >= 0x7f800000u;
      if (K == QSGD_MAX) {
        par[r] = bucket_params(static_cast<Kind>(K), u2f(amax_bits[r]), badr[r], L.s);
        memcpy(out + 4 * t, &par[r].scale, 4);
      } else {
        ex[r] = amax_exponent(u2f(amax_bits[r]));
        cadd[r] = sumsq_addend(ex[r]);
      }
    }
    if (hasB) {
      const int r = jb % 3;
      const float raw = badr[r] ? 0.0f : l2_from_sum(sum, ex[r]);
      par[r] = bucket_params(static_cast<Kind>(K), raw, badr[r], L.s);
      memcpy(out + 4 * jb, &par[r].scale, 4);
    }
    if (hasC) {
      if (badr[jc % 3]) {
        any_bad = true;
        memset(dst, 0, L.packed_bytes(S));
      } else if (wrapc) {  // not the counters the loop stepped: again, by the scalar reference
        quantize<K>(vcp, S, par[jc % 3], L, key, static_cast<uint32_t>(jc * S), dst, lv);
      } else if (B == 0) {
        simd::pack(lv, S, L.bits, dst);
      }
    }
  }
  if (nf < nb) any_bad |= encode_bucket_plain<K>(L, x, n, nf, out, key, lv);
  return any_bad;
}

template <int K>
GW_T bool encode_pipe_bits(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  switch (L.bits) {
    case 8:
      return encode_pipe<K, K == NUQ ? 8 : 0, 8>(L, x, n, out, key);
    case 4:
      return encode_pipe<K, 0, 4>(L, x, n, out, key);
    case 2:
      return encode_pipe<K, K == NUQ ? 2 : 0, 2>(L, x, n, out, key);
    default:
      return encode_pipe<K, 0, 0>(L, x, n, out, key);
  }
}
GW_SCHED_POP


}  // namespace

bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  if (L.bucket % 64 != 0) return encode_kinds(L, x, n, out, key);
  switch (L.kind) {
    case QSGD_MAX:
      return encode_pipe_bits<QSGD_MAX>(L, x, n, out, key);
    case NUQ:
      return encode_pipe_bits<NUQ>(L, x, n, out, key);
    default:
      return encode_pipe_bits<QSGD_L2>(L, x, n, out, key);
  }
}

void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_kinds(L, in, n, out, add);
}

}  // namespace qsgd
}  // namespace gw
#endif  // GW_QSGD_X86
