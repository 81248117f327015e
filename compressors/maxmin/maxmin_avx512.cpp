// maxmin kernels, AVX-512 F/BW/VL (16 lanes). Same float operations as the
// scalar reference (maxmin_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "maxmin/maxmin_kernels.h"

#if GW_MAXMIN_X86
#include <immintrin.h>

#include "common/bitpack_avx512.h"

#define GW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define GW_TI __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

namespace gw {
namespace maxmin {
namespace {

// Software prefetch distance of the quantize loop (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

namespace simd = bitpack::avx512;
using bitpack::prefetch_ahead;

// Bitwise or of floats without AVX512DQ.
GW_TI __m512 or512(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}


GW_TI void minmax(const float* v, size_t len, float* mn_out, float* mx_out, bool* bad_out) {
  __m512 mn0 = _mm512_set1_ps(v[0]), mx0 = mn0, mn1 = mn0, mx1 = mn0;
  // fma(x, 0, acc) is acc for finite x and NaN (sticky) when x is NaN or +-Inf.
  __m512 bad0 = _mm512_setzero_ps(), bad1 = bad0;
  const __m512 zero = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    __m512 a = _mm512_loadu_ps(v + k), b = _mm512_loadu_ps(v + k + 16);
    mn0 = _mm512_min_ps(mn0, a);
    mx0 = _mm512_max_ps(mx0, a);
    mn1 = _mm512_min_ps(mn1, b);
    mx1 = _mm512_max_ps(mx1, b);
    bad0 = _mm512_fmadd_ps(a, zero, bad0);
    bad1 = _mm512_fmadd_ps(b, zero, bad1);
  }
  float mn = _mm512_reduce_min_ps(_mm512_min_ps(mn0, mn1));
  float mx = _mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1));
  __m512 bad = _mm512_add_ps(bad0, bad1);
  bool b = _mm512_cmp_ps_mask(bad, bad, _CMP_UNORD_Q) != 0;
  for (; k < len; ++k) {
    b |= !((v[k] - v[k]) == 0.0f);
    mn = v[k] < mn ? v[k] : mn;
    mx = v[k] > mx ? v[k] : mx;
  }
  *mn_out = mn;
  *mx_out = mx;
  *bad_out = b;
}

struct QuantConsts {
  __m512 vmin, vinv, vlev, unit;
  __m512i k1;
};

GW_TI __m512i quant16(const float* s, __m512i ctr, const QuantConsts& c) {
  __m512 d = _mm512_sub_ps(_mm512_loadu_ps(s), c.vmin);
  __m512i r = rng_u32_avx512_x0(ctr, c.k1);  // ctr = counter + low key half
  __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(r, 8)), c.unit);
  __m512 t = _mm512_min_ps(_mm512_fmadd_ps(d, c.vinv, u), c.vlev);
  return _mm512_cvttps_epi32(t);
}

GW_TI void quantize(const float* v, size_t len, const BucketParams& p, float levels_f, uint64_t key, uint32_t i0,
                    uint8_t* lv) {
  QuantConsts c;
  c.vmin = _mm512_set1_ps(p.min);
  c.vinv = _mm512_set1_ps(p.inv);
  c.vlev = _mm512_set1_ps(levels_f);
  c.unit = _mm512_set1_ps(kRngUnit);
  c.k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(i0 + static_cast<uint32_t>(key))),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    // The next buckets stream in from memory while this one (in L1) is quantized.
    prefetch_ahead(v + k, kPrefetchFloats);
    __m512i a = quant16(v + k, idx, c);
    idx = _mm512_add_epi32(idx, sixteen);
    __m512i b = quant16(v + k + 16, idx, c);
    idx = _mm512_add_epi32(idx, sixteen);
    simd::store_bytes32(lv + k, a, b);  // levels <= 255
  }
  for (; k + 16 <= len; k += 16) {
    simd::store_bytes16(lv + k, quant16(v + k, idx, c));
    idx = _mm512_add_epi32(idx, sixteen);
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one(v[k], p, levels_f, key, i0 + static_cast<uint32_t>(k)));
}

template <int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, int bits, const BucketParams& p, float* o, uint8_t* lv) {
  const __m512 vs = _mm512_set1_ps(p.scale), vm = _mm512_set1_ps(p.min);
  const uint8_t* lsrc = bitpack::unpack_source<B>(src, len, bits, lv);
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    const __m512i l = simd::codes16<B>(lsrc, k);
    __m512 val = _mm512_fmadd_ps(vs, _mm512_cvtepi32_ps(l), vm);
    if (kAdd) val = _mm512_add_ps(_mm512_loadu_ps(o + k), val);
    _mm512_storeu_ps(o + k, val);
  }
  for (; k < len; ++k) {
    float val = dequantize_one(bitpack::code_at(src, k, bits), p);
    o[k] = kAdd ? o[k] + val : val;
  }
}

#include "maxmin/maxmin_simd_loops.inc"

}  // namespace

GW_T bool encode_avx512(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  return encode_buckets(L, x, n, out, key);
}

void decode_avx512(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_buckets(L, in, n, out, add);
}

}  // namespace maxmin
}  // namespace gw
#endif  // GW_MAXMIN_X86
