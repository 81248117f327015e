// maxmin kernels, AVX-512 F/BW/VL (16 lanes). Same float operations as the
// scalar reference (maxmin_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "compressors/maxmin/maxmin_kernels.h"

#if GW_MAXMIN_X86
#include <immintrin.h>

#include "compressors/common/bitpack_avx512.h"

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

// u = U * 2^-16 (exact) for rounding numbers U < 2^16 in 32-bit lanes.
GW_TI __m512 sr_uniform16(__m512i U) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(U), _mm512_set1_ps(kSrUnit));
}

struct QuantConsts {
  __m512 vmin, vinv, vlev;
  __m512i k1, h;
};

// rng_u32 on 16 lanes from x0 = counter + low key half; with kFast, the counters
// of the whole run share their high half H = x0 >> 16 (in c.h), so the hash's
// first step x0 ^ (x0 >> 16) is x0 ^ H.
template <bool kFast>
GW_TI __m512i rng16(__m512i x0, const QuantConsts& c) {
  return kFast ? rng_u32_avx512_x1(_mm512_xor_si512(x0, c.h), c.k1) : rng_u32_avx512_x0(x0, c.k1);
}

// quantize_one() on 16 values with rounding numbers U.
GW_TI __m512i quant16(__m512 x, __m512i U, const QuantConsts& c) {
  const __m512 d = _mm512_sub_ps(x, c.vmin);
  const __m512 t = _mm512_min_ps(_mm512_fmadd_ps(d, c.vinv, sr_uniform16(U)), c.vlev);
  return _mm512_cvttps_epi32(t);
}

// Byte levels (two vectors of 16) of the 32 values x0, x1 from an even element
// index, xs their pair counters (plus the low key half, in
// rng_sr_pair_order_avx512() order).
template <bool kFast>
GW_TI void quant32(__m512 x0, __m512 x1, __m512i xs, const QuantConsts& c, __m512i* a, __m512i* b) {
  const __m512i h = rng16<kFast>(xs, c);
  *a = quant16(x0, rng_sr16_avx512_first(h), c);
  *b = quant16(x1, rng_sr16_avx512_second(h), c);
}

template <bool kFast>
GW_TI void quantize_pairs_c(const float* v, size_t len, const QuantConsts& c, __m512i xs, uint8_t* lv) {
  const __m512i step = _mm512_set1_epi32(16);  // pair counters per 32 values
  __m512i a, b;
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    // The next buckets stream in from memory while this one (in L1) is quantized.
    prefetch_ahead(v + k, kPrefetchFloats);
    quant32<kFast>(_mm512_loadu_ps(v + k), _mm512_loadu_ps(v + k + 16), xs, c, &a, &b);
    simd::store_bytes32(lv + k, a, b);
    xs = _mm512_add_epi32(xs, step);
  }
  if (k < len) {
    // The last 1..31 values: masked loads and a masked store.
    const uint32_t m = static_cast<uint32_t>((uint64_t{1} << (len - k)) - 1u);
    const __mmask16 m0 = static_cast<__mmask16>(m), m1 = static_cast<__mmask16>(m >> 16);
    quant32<kFast>(_mm512_maskz_loadu_ps(m0, v + k), _mm512_maskz_loadu_ps(m1, v + k + 16), xs, c, &a, &b);
    // store_bytes32's narrowing, then the bytes below len
    const __m256i w = _mm512_cvtepi16_epi8(_mm512_packus_epi32(a, b));
    const __m256i ord = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    _mm256_mask_storeu_epi8(lv + k, static_cast<__mmask32>(m), ord);
  }
}

// quantize() (maxmin_simd_loops.inc) of a run of values from an even element
// index e whose indices do not wrap: pair counters e / 2, e / 2 + 1, ...
GW_T void quantize_pairs(const float* v, size_t len, const BucketParams& p, float levels_f, uint64_t key, uint32_t e,
                         uint8_t* lv) {
  QuantConsts c;
  c.vmin = _mm512_set1_ps(p.min);
  c.vinv = _mm512_set1_ps(p.inv);
  c.vlev = _mm512_set1_ps(levels_f);
  c.k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const uint32_t x0 = (e >> 1) + static_cast<uint32_t>(key);
  const bool fast = (x0 >> 16) == ((x0 + static_cast<uint32_t>((len + 1) / 2 - 1)) >> 16);
  c.h = _mm512_set1_epi32(static_cast<int>(x0 >> 16));
  const __m512i xs = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(x0)), rng_sr_pair_order_avx512());
  if (fast)
    quantize_pairs_c<true>(v, len, c, xs, lv);
  else
    quantize_pairs_c<false>(v, len, c, xs, lv);
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

#include "compressors/maxmin/maxmin_simd_loops.inc"

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
