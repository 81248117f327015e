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
  uint64_t sum = static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(a0, a1)));
  for (; k < len; ++k) sum += sumsq_addend_term(v[k], c);
  return sum;
}

struct QuantConsts {
  __m512 vinv, vs, vz, unit, one;
  __m512i k1, absmask, hbias, one_i, signbit;
};

// The codes of 16 values (see qsgd_kernels.h; kNuqB: nuq with bits = 8 or 2, 0 otherwise).
//  - nuq, y >= 2^(1-s): l = k + [u24 < 2m] = k + [u23 < m] (u23 = u24 >> 1 = r >> 9)
//    = (k * 2^23 + m + 2^23 - 1 - u23) >> 23 = (bits(y) + hbias - u23) >> 23 with
//    hbias = (s - 127) * 2^23 + 2^23 - 1. Where y < 2^(1-s) that shift gives <= 1
//    (arithmetic), so base = max(that, 1) is l there and 1 below; below,
//    l = [u < y * 2^(s-1)] = 1 - [u24 >= y * 2^(s+23)] (u24 and the product exact,
//    the product >= 2^24 > u24 above). With s = 127 (bits 8) y < 2^(1-s) means y
//    subnormal, bits(y) = m, k = 0 and [u < y * 2^126] = [u24 < 2m] = [u23 < m]:
//    the shift alone is l everywhere. With s = 1 (bits 2) every y is at most
//    2^(1-s) = 1, and y = 1 (l = 1) also gives 1 - [u24 >= 2^24] = 1: no shift.
//  - the sign bit where x < 0 and l != 0.
template <int K, int kNuqB>
GW_TI __m512i quant16(const float* s, __m512i ctr, const QuantConsts& c) {
  const __m512i xb = _mm512_loadu_si512(s);
  const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(xb, c.absmask));
  const __m512i r = rng_u32_avx512_x0(ctr, c.k1);  // ctr = counter + low key half
  const __m512i u24 = _mm512_srli_epi32(r, 8);
  __m512i l;
  if (K == NUQ) {
    const __m512 y = _mm512_min_ps(_mm512_mul_ps(ax, c.vinv), c.one);
    __m512i base = c.one_i;  // bits 2: s = 1, y <= 1 = 2^(1-s) everywhere (y = 1 gives l = 1 either way)
    if (kNuqB != 2)
      base = _mm512_srai_epi32(
          _mm512_sub_epi32(_mm512_add_epi32(_mm512_castps_si512(y), c.hbias), _mm512_srli_epi32(u24, 1)), 23);
    if (kNuqB == 8) {
      l = base;
    } else {
      if (kNuqB != 2) base = _mm512_max_epi32(base, c.one_i);
      const __mmask16 ge = _mm512_cmp_ps_mask(_mm512_cvtepi32_ps(u24), _mm512_mul_ps(y, c.vz), _CMP_GE_OQ);
      l = _mm512_mask_sub_epi32(base, ge, base, c.one_i);
    }
  } else {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(u24), c.unit);
    l = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_fmadd_ps(ax, c.vinv, u), c.vs));
  }
  const __mmask16 neg = _mm512_cmplt_epi32_mask(xb, _mm512_setzero_si512());
  return _mm512_mask_or_epi32(l, _mm512_mask_test_epi32_mask(neg, l, l), l, c.signbit);
}

// The codes of v[0..len) packed at B bits into dst (B = 8, 4, 2 packed 64 at a
// time in registers; B = 0: any width, as bytes in lv, then simd::pack). The
// codes after the last full 64 go through lv and the scalar packer.
template <int K, int kNuqB, int B>
GW_TI void quantize_t(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                      uint8_t* dst, uint8_t* lv) {
  QuantConsts c;
  c.vinv = _mm512_set1_ps(p.inv);
  c.vs = _mm512_set1_ps(static_cast<float>(L.s));
  c.vz = _mm512_set1_ps(kNuqB == 8 ? 0.0f : u2f((L.s + 23u + 127u) << 23));  // 2^(s+23), s <= 63 here
  c.unit = _mm512_set1_ps(kRngUnit);
  c.one = _mm512_set1_ps(1.0f);
  c.k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.absmask = _mm512_set1_epi32(0x7fffffff);
  c.hbias = _mm512_set1_epi32((static_cast<int>(L.s) - 127) * (1 << 23) + (1 << 23) - 1);
  c.one_i = _mm512_set1_epi32(1);
  c.signbit = _mm512_set1_epi32(1 << (L.bits - 1));
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(i0 + static_cast<uint32_t>(key))),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  size_t k = 0;
  for (; k + 64 <= len; k += 64) {
    __m512i q[4];
    for (int h = 0; h < 4; ++h) {
      q[h] = quant16<K, kNuqB>(v + k + 16 * h, idx, c);
      idx = _mm512_add_epi32(idx, sixteen);
    }
    const __m512i bytes = simd::bytes64(q[0], q[1], q[2], q[3]);  // codes <= 255
    if constexpr (B == 0)
      _mm512_storeu_si512(lv + k, bytes);
    else
      simd::pack64<B>(bytes, dst + k * B / 8);
  }
  const size_t k64 = k;
  for (; k + 16 <= len; k += 16) {
    simd::store_bytes16(lv + k, quant16<K, kNuqB>(v + k, idx, c));
    idx = _mm512_add_epi32(idx, sixteen);
  }
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one<K>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
  if (B == 0)
    simd::pack(lv, len, L.bits, dst);
  else
    bitpack::pack(lv + k64, len - k64, B, dst + k64 * B / 8);
}

// The codes of v[0..len) packed into dst (lv: scratch for len bytes).
template <int K>
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key, uint32_t i0,
                    uint8_t* dst, uint8_t* lv) {
  switch (L.bits) {
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
