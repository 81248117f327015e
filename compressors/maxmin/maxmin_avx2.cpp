// maxmin kernels, AVX2 + FMA (8 lanes). Same float operations as the scalar
// reference (maxmin_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

#include "maxmin/maxmin_kernels.h"

#if GW_MAXMIN_X86
#include <immintrin.h>

#include "common/bitpack_avx2.h"

#define GW_T __attribute__((target("avx2,fma")))
#define GW_TI __attribute__((target("avx2,fma"), always_inline)) inline

namespace gw {
namespace maxmin {
namespace {

// Software prefetch distance of the quantize loop (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

namespace simd = bitpack::avx2;
using bitpack::prefetch_ahead;
using simd::hmax;
using simd::hmin;

// min, max and "some value is NaN/Inf" of v[0..len), len >= 1.
GW_TI void minmax(const float* v, size_t len, float* mn_out, float* mx_out, bool* bad_out) {
  __m256 mn0 = _mm256_set1_ps(v[0]), mx0 = mn0, mn1 = mn0, mx1 = mn0;
  // fma(x, 0, acc) is acc for finite x and NaN (sticky) when x is NaN or +-Inf.
  __m256 bad0 = _mm256_setzero_ps(), bad1 = bad0;
  const __m256 zero = _mm256_setzero_ps();
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    __m256 a = _mm256_loadu_ps(v + k), b = _mm256_loadu_ps(v + k + 8);
    mn0 = _mm256_min_ps(mn0, a);
    mx0 = _mm256_max_ps(mx0, a);
    mn1 = _mm256_min_ps(mn1, b);
    mx1 = _mm256_max_ps(mx1, b);
    bad0 = _mm256_fmadd_ps(a, zero, bad0);
    bad1 = _mm256_fmadd_ps(b, zero, bad1);
  }
  float mn = hmin(_mm256_min_ps(mn0, mn1)), mx = hmax(_mm256_max_ps(mx0, mx1));
  __m256 bad = _mm256_add_ps(bad0, bad1);
  bool b = _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
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
  __m256 vmin, vinv, vlev, unit;
  __m256i k1;
};

GW_TI __m256i quant8(const float* s, __m256i ctr, const QuantConsts& c) {
  __m256 d = _mm256_sub_ps(_mm256_loadu_ps(s), c.vmin);
  __m256i r = rng_u32_avx2_x0(ctr, c.k1);  // ctr = counter + low key half
  __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(r, 8)), c.unit);
  __m256 t = _mm256_min_ps(_mm256_fmadd_ps(d, c.vinv, u), c.vlev);
  return _mm256_cvttps_epi32(t);
}

// Byte levels of v[0..len) into lv[0..len).
GW_TI void quantize(const float* v, size_t len, const BucketParams& p, float levels_f, uint64_t key, uint32_t i0,
                    uint8_t* lv) {
  QuantConsts c;
  c.vmin = _mm256_set1_ps(p.min);
  c.vinv = _mm256_set1_ps(p.inv);
  c.vlev = _mm256_set1_ps(levels_f);
  c.unit = _mm256_set1_ps(kRngUnit);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const __m256i eight = _mm256_set1_epi32(8);
  __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i0 + static_cast<uint32_t>(key))),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    // The next buckets stream in from memory while this one (in L1) is quantized.
    prefetch_ahead(v + k, kPrefetchFloats);
    __m256i a = quant8(v + k, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i b = quant8(v + k + 8, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i cc = quant8(v + k + 16, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    __m256i d = quant8(v + k + 24, idx, c);
    idx = _mm256_add_epi32(idx, eight);
    simd::store_bytes32(lv + k, a, b, cc, d);
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one(v[k], p, levels_f, key, i0 + static_cast<uint32_t>(k)));
}

template <int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, int bits, const BucketParams& p, float* o, uint8_t* lv) {
  const __m256 vs = _mm256_set1_ps(p.scale), vm = _mm256_set1_ps(p.min);
  const uint8_t* lsrc = bitpack::unpack_source<B>(src, len, bits, lv);
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    const __m256i l = simd::codes8<B>(lsrc, k);
    __m256 val = _mm256_fmadd_ps(vs, _mm256_cvtepi32_ps(l), vm);
    if (kAdd) val = _mm256_add_ps(_mm256_loadu_ps(o + k), val);
    _mm256_storeu_ps(o + k, val);
  }
  for (; k < len; ++k) {
    float val = dequantize_one(bitpack::code_at(src, k, bits), p);
    o[k] = kAdd ? o[k] + val : val;
  }
}

#include "maxmin/maxmin_simd_loops.inc"

}  // namespace

GW_T bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  return encode_buckets(L, x, n, out, key);
}

void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_buckets(L, in, n, out, add);
}

}  // namespace maxmin
}  // namespace gw
#endif  // GW_MAXMIN_X86
