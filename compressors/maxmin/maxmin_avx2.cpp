// maxmin kernels, AVX2 + FMA (8 lanes). Same float operations as the scalar
// reference (maxmin_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

#include "compressors/maxmin/maxmin_kernels.h"

#if GW_MAXMIN_X86
#include <immintrin.h>

#include "compressors/common/bitpack_avx2.h"

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

// u = U * 2^-16 (exact) for rounding numbers U < 2^16 in 32-bit lanes.
GW_TI __m256 sr_uniform8(__m256i U) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(U), _mm256_set1_ps(kSrUnit));
}

struct QuantConsts {
  __m256 vmin, vinv, vlev;
  __m256i k1, h;
};

template <bool kFast>
GW_TI __m256i rng8(__m256i x0, const QuantConsts& c) {
  return kFast ? rng_u32_avx2_x1(_mm256_xor_si256(x0, c.h), c.k1) : rng_u32_avx2_x0(x0, c.k1);
}

// quantize_one() on 8 values with rounding numbers U.
GW_TI __m256i quant8(__m256 x, __m256i U, const QuantConsts& c) {
  const __m256 d = _mm256_sub_ps(x, c.vmin);
  const __m256 t = _mm256_min_ps(_mm256_fmadd_ps(d, c.vinv, sr_uniform8(U)), c.vlev);
  return _mm256_cvttps_epi32(t);
}

// Byte levels of 32 values x0..x3 (8 each) from an even element index: xa / xb
// are the pair counters (plus the low key half, in rng_sr_pair_order_avx2()
// order) of values 0..15 / 16..31.
template <bool kFast>
GW_TI void quant32(__m256 x0, __m256 x1, __m256 x2, __m256 x3, __m256i xa, __m256i xb, const QuantConsts& c,
                   uint8_t* lv) {
  const __m256i ha = rng8<kFast>(xa, c), hb = rng8<kFast>(xb, c);
  const __m256i a = quant8(x0, rng_sr16_avx2_first(ha), c), b = quant8(x1, rng_sr16_avx2_second(ha), c);
  const __m256i cc = quant8(x2, rng_sr16_avx2_first(hb), c), d = quant8(x3, rng_sr16_avx2_second(hb), c);
  simd::store_bytes32(lv, a, b, cc, d);
}

template <bool kFast>
GW_TI void quantize_pairs_c(const float* v, size_t len, const QuantConsts& c, __m256i xa, uint8_t* lv) {
  const __m256i step = _mm256_set1_epi32(16);  // pair counters per 32 values
  __m256i xb = _mm256_add_epi32(xa, _mm256_set1_epi32(8));
  size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    // The next buckets stream in from memory while this one (in L1) is quantized.
    prefetch_ahead(v + k, kPrefetchFloats);
    quant32<kFast>(_mm256_loadu_ps(v + k), _mm256_loadu_ps(v + k + 8), _mm256_loadu_ps(v + k + 16),
                   _mm256_loadu_ps(v + k + 24), xa, xb, c, lv + k);
    xa = _mm256_add_epi32(xa, step);
    xb = _mm256_add_epi32(xb, step);
  }
  if (k < len) {
    // The last 1..31 values: one more block of masked loads (lanes past len read
    // nothing, and their levels are dropped).
    const __m256i r = _mm256_set1_epi32(static_cast<int>(len - k));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
    const __m256i m0 = _mm256_cmpgt_epi32(r, lane), m1 = _mm256_cmpgt_epi32(_mm256_sub_epi32(r, eight), lane);
    const __m256i m2 = _mm256_cmpgt_epi32(_mm256_sub_epi32(r, _mm256_set1_epi32(16)), lane);
    const __m256i m3 = _mm256_cmpgt_epi32(_mm256_sub_epi32(r, _mm256_set1_epi32(24)), lane);
    alignas(32) uint8_t l[32];
    quant32<kFast>(_mm256_maskload_ps(v + k, m0), _mm256_maskload_ps(v + k + 8, m1),
                   _mm256_maskload_ps(v + k + 16, m2), _mm256_maskload_ps(v + k + 24, m3), xa, xb, c, l);
    memcpy(lv + k, l, len - k);
  }
}

// quantize() (maxmin_simd_loops.inc) of a run of values from an even element
// index e whose indices do not wrap: pair counters e / 2, e / 2 + 1, ...
GW_T void quantize_pairs(const float* v, size_t len, const BucketParams& p, float levels_f, uint64_t key, uint32_t e,
                         uint8_t* lv) {
  QuantConsts c;
  c.vmin = _mm256_set1_ps(p.min);
  c.vinv = _mm256_set1_ps(p.inv);
  c.vlev = _mm256_set1_ps(levels_f);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const uint32_t x0 = (e >> 1) + static_cast<uint32_t>(key);
  // x0 ^ (x0 >> 16) is x0 ^ H when the run's counters share their high half.
  const bool fast = (x0 >> 16) == ((x0 + static_cast<uint32_t>((len + 1) / 2 - 1)) >> 16);
  c.h = _mm256_set1_epi32(static_cast<int>(x0 >> 16));
  const __m256i xa = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(x0)), rng_sr_pair_order_avx2());
  if (fast)
    quantize_pairs_c<true>(v, len, c, xa, lv);
  else
    quantize_pairs_c<false>(v, len, c, xa, lv);
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

#include "compressors/maxmin/maxmin_simd_loops.inc"

// ---- the pipelined encode (buckets of a multiple of 64 values) --------------------
// One loop finds min / max of bucket j+1 while it quantizes bucket j, so the
// horizontal reductions and the scalar bucket math hide behind independent work.
// Per value: d = fma(x, 1, -min) (the same rounding as x - min, on the FMA pipes
// rather than the add/convert ones); the clamp min(t, L) is applied to the
// truncated level as bytes (trunc(min(t, L)) = min(trunc(t), L) for t >= 0; t <
// L + 2 while scale < FLT_MAX, else the bucket takes the plain path); the random
// numbers: one hash per 16 values (rng_sr16_avx2_first / _second of the pair
// counters i0 / 2 + k, common/rng.h), with x0 ^ H for x0 ^ (x0 >> 16) within a
// bucket whose pair counters share their high half (see qsgd_avx2.cpp).

// Compiled with GCC's pressure-aware scheduler before register allocation, as
// the pipelined loops of qsgd_avx2.cpp (there for the reasons given): here 2-3%
// faster in cache (Zen 4, bits 2/4/8). Only the pipelined encode.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("schedule-insns", "sched-pressure")
#endif

struct PipeConsts {
  __m256 nmin, vinv, one;
  __m256i k1, h, lev8;
};

template <bool kFast>
GW_TI __m256i rng8(__m256i x0, const PipeConsts& c) {
  return kFast ? rng_u32_avx2_x1(_mm256_xor_si256(x0, c.h), c.k1) : rng_u32_avx2_x0(x0, c.k1);
}

// Levels (before the clamp) of 8 values with rounding numbers U.
GW_TI __m256i level8(const float* s, __m256i U, const PipeConsts& c) {
  const __m256 d = _mm256_fmadd_ps(_mm256_loadu_ps(s), c.one, c.nmin);
  return _mm256_cvttps_epi32(_mm256_fmadd_ps(d, c.vinv, sr_uniform8(U)));
}

template <int B>
GW_TI __m256i levels32(__m256i a, __m256i b, __m256i cc, __m256i d, const PipeConsts& c) {
  const __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(cc, d));
  return B == 8 ? w : _mm256_min_epu8(w, c.lev8);
}

template <int B, bool kFast>
GW_TI void levels64(const float* v, __m256i& idx, const PipeConsts& c, uint8_t* out) {
  const __m256i eight = _mm256_set1_epi32(8);
  __m256i q[8];
  for (int h = 0; h < 4; ++h) {  // one hash per 16 values
    const __m256i r = rng8<kFast>(idx, c);
    idx = _mm256_add_epi32(idx, eight);
    q[2 * h] = level8(v + 16 * h, rng_sr16_avx2_first(r), c);
    q[2 * h + 1] = level8(v + 16 * h + 8, rng_sr16_avx2_second(r), c);
  }
  const __m256i x = levels32<B>(q[0], q[1], q[2], q[3], c);
  const __m256i y = levels32<B>(q[4], q[5], q[6], q[7], c);
  if (B == 4 || B == 2) {
    simd::pack64_scrambled<B>(x, y, out);
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), simd::unscramble32(x));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), simd::unscramble32(y));
  }
}

struct MinMax {
  __m256 mn0, mx0, mn1, mx1, bad0, bad1;
};

GW_TI void minmax64(const float* v, MinMax& m) {
  prefetch_ahead(v, kPrefetchFloats);
  prefetch_ahead(v + 32, kPrefetchFloats);
  const __m256 zero = _mm256_setzero_ps();
  for (int h = 0; h < 8; h += 2) {
    const __m256 a = _mm256_loadu_ps(v + 8 * h), b = _mm256_loadu_ps(v + 8 * h + 8);
    m.mn0 = _mm256_min_ps(m.mn0, a);
    m.mx0 = _mm256_max_ps(m.mx0, a);
    m.mn1 = _mm256_min_ps(m.mn1, b);
    m.mx1 = _mm256_max_ps(m.mx1, b);
    m.bad0 = _mm256_fmadd_ps(a, zero, m.bad0);
    m.bad1 = _mm256_fmadd_ps(b, zero, m.bad1);
  }
}

// min / max / bad of bucket va (if kA) and the levels of bucket vc (if kC).
template <int B, bool kA, bool kC, bool kFast>
GW_TI void pass(size_t len, const float* va, float* mn, float* mx, bool* bad, const float* vc, const PipeConsts& c,
                __m256i idx, uint8_t* out) {
  MinMax m;
  if (kA) {
    m.mn0 = m.mx0 = m.mn1 = m.mx1 = _mm256_set1_ps(va[0]);
    m.bad0 = m.bad1 = _mm256_setzero_ps();
  }
  for (size_t k = 0; k < len; k += 64) {
    if (kA) minmax64(va + k, m);
    if (kC) levels64<B, kFast>(vc + k, idx, c, out + (B == 0 ? k : k * B / 8));
  }
  if (kA) {
    *mn = hmin(_mm256_min_ps(m.mn0, m.mn1));
    *mx = hmax(_mm256_max_ps(m.mx0, m.mx1));
    const __m256 b = _mm256_add_ps(m.bad0, m.bad1);
    *bad = _mm256_movemask_ps(_mm256_cmp_ps(b, b, _CMP_UNORD_Q)) != 0;
  }
}

template <int B, bool kA, bool kC>
GW_TI void pass_c(bool fast, size_t len, const float* va, float* mn, float* mx, bool* bad, const float* vc,
                  const PipeConsts& c, __m256i idx, uint8_t* out) {
  if (kC && fast)
    pass<B, kA, kC, true>(len, va, mn, mx, bad, vc, c, idx, out);
  else
    pass<B, kA, kC, false>(len, va, mn, mx, bad, vc, c, idx, out);
}

// One bucket the plain way (as encode_buckets of maxmin_simd_loops.inc).
GW_TI bool encode_bucket_plain(const Layout& L, const float* x, size_t n, size_t j, uint8_t* out, uint64_t key,
                               uint8_t* lv, bool have_params, BucketParams p) {
  const size_t nb = L.num_buckets(n);
  const size_t i0 = j * L.bucket;
  const size_t len = std::min(L.bucket, n - i0);
  const float* v = x + i0;
  bool bad = false;
  if (!have_params) {
    float mn, mx;
    minmax(v, len, &mn, &mx, &bad);
    p = bucket_params(mn, mx, bad, L.levels);
    memcpy(out + 8 * j, &p.min, 4);
    memcpy(out + 8 * j + 4, &p.scale, 4);
  }
  uint8_t* dst = out + 8 * nb + j * L.packed_bucket;
  if (bad) {
    memset(dst, 0, L.packed_bytes(len));
    return true;
  }
  const float levels_f = static_cast<float>(L.levels);
  if (L.bits == 8) {
    quantize(v, len, p, levels_f, key, static_cast<uint32_t>(i0), dst);
  } else {
    quantize(v, len, p, levels_f, key, static_cast<uint32_t>(i0), lv);
    simd::pack(lv, len, L.bits, dst);
  }
  return false;
}

template <int B>
GW_T bool encode_pipe(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  const size_t S = L.bucket, nf = n / S, nb = L.num_buckets(n);
  uint8_t* levels_base = out + 8 * nb;
  alignas(64) uint8_t lv[8192 + 64];
  PipeConsts c{};
  c.one = _mm256_set1_ps(1.0f);
  c.k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  c.lev8 = _mm256_set1_epi8(static_cast<char>(L.levels));
  const uint32_t klo = static_cast<uint32_t>(key);
  BucketParams par[2];
  bool badr[2] = {false, false};
  bool any_bad = false;
  for (size_t t = 0; t < nf + 1; ++t) {
    const bool hasA = t < nf;
    bool hasC = t >= 1;
    const size_t jc = t - 1;
    float mn = 0.0f, mx = 0.0f;
    bool bad = false;
    bool fast = false;
    __m256i idx = _mm256_setzero_si256();
    uint8_t* dst = levels_base + jc * L.packed_bucket;
    bool plain_c = false;
    if (hasC) {
      const BucketParams& p = par[jc & 1];
      const uint32_t i0 = static_cast<uint32_t>(jc * S);  // even
      if (badr[jc & 1] || !(p.scale < FLT_MAX) || uint64_t{i0} + S > (uint64_t{1} << 32)) {
        // zeros, or levels that could pass 2^31 before the clamp, or element
        // indices that wrap to 0 inside the bucket (pair counters restart)
        plain_c = true;
        hasC = false;
      } else {
        c.nmin = _mm256_set1_ps(-p.min);
        c.vinv = _mm256_set1_ps(p.inv);
        const uint32_t x0 = (i0 >> 1) + klo;  // pair counters x0 .. x0 + S/2 - 1
        fast = (x0 >> 16) == ((x0 + static_cast<uint32_t>(S / 2) - 1u) >> 16);
        c.h = _mm256_set1_epi32(static_cast<int>(x0 >> 16));
        idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(x0)), rng_sr_pair_order_avx2());
      }
    }
    const float* va = x + t * S;
    const float* vcp = x + jc * S;
    uint8_t* cout = B == 0 ? lv : dst;
    if (hasA && hasC)
      pass_c<B, true, true>(fast, S, va, &mn, &mx, &bad, vcp, c, idx, cout);
    else if (hasA)
      pass_c<B, true, false>(fast, S, va, &mn, &mx, &bad, vcp, c, idx, cout);
    else if (hasC)
      pass_c<B, false, true>(fast, S, va, &mn, &mx, &bad, vcp, c, idx, cout);
    if (plain_c) {
      if (badr[jc & 1]) {
        any_bad = true;
        memset(dst, 0, L.packed_bytes(S));
      } else {
        encode_bucket_plain(L, x, n, jc, out, key, lv, true, par[jc & 1]);
      }
    } else if (hasC && B == 0) {
      simd::pack(lv, S, L.bits, dst);
    }
    if (hasA) {
      const int r = t & 1;
      badr[r] = bad;
      par[r] = bucket_params(mn, mx, bad, L.levels);
      memcpy(out + 8 * t, &par[r].min, 4);
      memcpy(out + 8 * t + 4, &par[r].scale, 4);
    }
  }
  if (nf < nb) any_bad |= encode_bucket_plain(L, x, n, nf, out, key, lv, false, BucketParams{});
  return any_bad;
}


#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
}  // namespace

GW_T bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  if (L.bucket % 64 != 0) return encode_buckets(L, x, n, out, key);
  switch (L.bits) {
    case 8:
      return encode_pipe<8>(L, x, n, out, key);
    case 4:
      return encode_pipe<4>(L, x, n, out, key);
    case 2:
      return encode_pipe<2>(L, x, n, out, key);
    default:
      return encode_pipe<0>(L, x, n, out, key);
  }
}

void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  decode_buckets(L, in, n, out, add);
}

}  // namespace maxmin
}  // namespace gw
#endif  // GW_MAXMIN_X86
