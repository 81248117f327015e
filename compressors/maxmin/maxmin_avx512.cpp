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

#define GW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define GW_TI __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"), always_inline)) inline

namespace gw {
namespace maxmin {
namespace {

// Software prefetch distance of the quantize loop (floats ahead of the current one).
constexpr size_t kPrefetchFloats = 2048;

// Prefetches the two cache lines `ahead` floats after p (a hint: the address may
// lie past the buffer's end, so it is formed as an integer and never dereferenced).
GW_TI void prefetch_ahead(const float* p, size_t ahead) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p) + 4 * ahead;
  __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 3);
  __builtin_prefetch(reinterpret_cast<const void*>(a + 64), 0, 3);
}

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
    // levels <= 255: two saturating packs keep them; fix the 128-bit lane order.
    __m512i w = _mm512_packus_epi32(a, b);  // per lane: a(4) b(4) as u16
    __m256i lo = _mm512_cvtepi16_epi8(w);   // per lane: a(4) b(4) as u8, lanes 0..3
    // lane q holds a[4q..4q+3], b[4q..4q+3]: reorder dwords to a0..a15 b0..b15.
    __m256i ord = _mm256_permutevar8x32_epi32(lo, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv + k), ord);
  }
  for (; k + 16 <= len; k += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lv + k), _mm512_cvtepi32_epi8(quant16(v + k, idx, c)));
    idx = _mm512_add_epi32(idx, sixteen);
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one(v[k], p, levels_f, key, i0 + static_cast<uint32_t>(k)));
}

GW_TI void pack(const uint8_t* lv, size_t len, int bits, uint8_t* out) {
  size_t k = 0;
  if (bits == 4) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      __m512i t = _mm512_or_si512(v, _mm512_srli_epi16(v, 4));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k / 2), _mm512_cvtepi16_epi8(t));
    }
  } else if (bits == 2) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      __m512i y = _mm512_or_si512(v, _mm512_srli_epi32(v, 6));
      y = _mm512_or_si512(y, _mm512_srli_epi32(y, 12));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k / 4), _mm512_cvtepi32_epi8(y));
    }
  } else if (bits == 1) {
    for (; k + 64 <= len; k += 64) {
      __m512i v = _mm512_loadu_si512(lv + k);
      uint64_t m = _mm512_test_epi8_mask(v, _mm512_set1_epi8(1));
      memcpy(out + k / 8, &m, 8);
    }
  }
  pack_generic(lv + k, len - k, bits, out + k * static_cast<size_t>(bits) / 8);
}

template <int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, int bits, const BucketParams& p, float* o, uint8_t* lv) {
  const __m512 vs = _mm512_set1_ps(p.scale), vm = _mm512_set1_ps(p.min);
  const uint8_t* lsrc = src;
  if (B == 0) {
    unpack_generic(src, 0, len, bits, lv);
    lsrc = lv;
  }
  size_t k = 0;
  for (; k + 16 <= len; k += 16) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    __m512i l;
    if (B == 4) {
      uint64_t w;
      memcpy(&w, src + k / 2, 8);
      __m512i x = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                           _mm512_castsi128_si512(_mm_cvtsi64_si128(static_cast<long long>(w))));
      l = _mm512_and_si512(
          _mm512_srlv_epi32(x, _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28)),
          _mm512_set1_epi32(15));
    } else if (B == 2) {
      uint32_t w;
      memcpy(&w, src + k / 4, 4);
      l = _mm512_and_si512(
          _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w)),
                            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)),
          _mm512_set1_epi32(3));
    } else if (B == 1) {
      uint16_t w;
      memcpy(&w, src + k / 8, 2);
      l = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(w), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                                     10, 11, 12, 13, 14, 15)),
                           _mm512_set1_epi32(1));
    } else {
      l = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lsrc + k)));
    }
    __m512 val = _mm512_fmadd_ps(vs, _mm512_cvtepi32_ps(l), vm);
    if (kAdd) val = _mm512_add_ps(_mm512_loadu_ps(o + k), val);
    _mm512_storeu_ps(o + k, val);
  }
  for (; k < len; ++k) {
    float val = dequantize_one(level_at(src, k, bits), p);
    o[k] = kAdd ? o[k] + val : val;
  }
}

template <int B, bool kAdd>
GW_T void decode_all(const Layout& L, const uint8_t* in, size_t n, float* out) {
  const size_t nb = L.num_buckets(n);
  const uint8_t* levels_base = in + 8 * nb;
  alignas(64) uint8_t lv[8192 + 64];
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    BucketParams p;
    memcpy(&p.min, in + 8 * j, 4);
    memcpy(&p.scale, in + 8 * j + 4, 4);
    p.inv = 0.0f;
    dequant_bucket<B, kAdd>(levels_base + j * L.packed_bucket, len, L.bits, p, out + i0, lv);
  }
}

template <bool kAdd>
void decode_dispatch(const Layout& L, const uint8_t* in, size_t n, float* out) {
  switch (L.bits) {
    case 8:
      return decode_all<8, kAdd>(L, in, n, out);
    case 4:
      return decode_all<4, kAdd>(L, in, n, out);
    case 2:
      return decode_all<2, kAdd>(L, in, n, out);
    case 1:
      return decode_all<1, kAdd>(L, in, n, out);
    default:
      return decode_all<0, kAdd>(L, in, n, out);
  }
}

}  // namespace

GW_T bool encode_avx512(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  const size_t nb = L.num_buckets(n);
  uint8_t* levels_base = out + 8 * nb;
  const float levels_f = static_cast<float>(L.levels);
  alignas(64) uint8_t lv[8192 + 64];
  bool any_bad = false;
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    const float* v = x + i0;
    float mn, mx;
    bool bad;
    minmax(v, len, &mn, &mx, &bad);
    BucketParams p = bucket_params(mn, mx, bad, L.levels);
    memcpy(out + 8 * j, &p.min, 4);
    memcpy(out + 8 * j + 4, &p.scale, 4);
    uint8_t* dst = levels_base + j * L.packed_bucket;
    if (bad) {
      any_bad = true;
      memset(dst, 0, L.packed_bytes(len));
      continue;
    }
    if (L.bits == 8) {
      quantize(v, len, p, levels_f, key, static_cast<uint32_t>(i0), dst);
    } else {
      quantize(v, len, p, levels_f, key, static_cast<uint32_t>(i0), lv);
      pack(lv, len, L.bits, dst);
    }
  }
  return any_bad;
}

void decode_avx512(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  if (add)
    decode_dispatch<true>(L, in, n, out);
  else
    decode_dispatch<false>(L, in, n, out);
}

}  // namespace maxmin
}  // namespace gw
#endif  // GW_MAXMIN_X86
