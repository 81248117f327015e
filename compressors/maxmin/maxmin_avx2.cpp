// maxmin kernels, AVX2 + FMA (8 lanes). Same float operations as the scalar
// reference (maxmin_kernels.h), so the payload and decoded bits are identical.
#include <algorithm>

#include "maxmin/maxmin_kernels.h"

#if GW_MAXMIN_X86
#include <immintrin.h>

#define GW_T __attribute__((target("avx2,fma")))
#define GW_TI __attribute__((target("avx2,fma"), always_inline)) inline

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


GW_TI float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
GW_TI float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

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
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
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
    __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(cc, d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv + k), _mm256_permutevar8x32_epi32(w, perm));
  }
  for (; k < len; ++k)
    lv[k] = static_cast<uint8_t>(quantize_one(v[k], p, levels_f, key, i0 + static_cast<uint32_t>(k)));
}

GW_TI void pack(const uint8_t* lv, size_t len, int bits, uint8_t* out) {
  size_t k = 0;
  if (bits == 4) {
    const __m256i lo = _mm256_set1_epi16(0xff);
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      __m256i t = _mm256_and_si256(_mm256_or_si256(v, _mm256_srli_epi16(v, 4)), lo);
      __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(t, t), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k / 2), _mm256_castsi256_si128(p));
    }
  } else if (bits == 2) {
    const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                                            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      __m256i y = _mm256_or_si256(v, _mm256_srli_epi32(v, 6));
      y = _mm256_or_si256(y, _mm256_srli_epi32(y, 12));
      y = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(y, gather), lanes);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + k / 4), _mm256_castsi256_si128(y));
    }
  } else if (bits == 1) {
    for (; k + 32 <= len; k += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + k));
      uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(v, 7)));
      memcpy(out + k / 8, &m, 4);
    }
  }
  // k * bits is a multiple of 8 here: the rest starts on a byte boundary.
  pack_generic(lv + k, len - k, bits, out + k * static_cast<size_t>(bits) / 8);
}

template <int B, bool kAdd>
GW_TI void dequant_bucket(const uint8_t* src, size_t len, int bits, const BucketParams& p, float* o, uint8_t* lv) {
  const __m256 vs = _mm256_set1_ps(p.scale), vm = _mm256_set1_ps(p.min);
  const uint8_t* lsrc = src;
  if (B == 0) {  // bit widths without a vector unpacker: bytes first
    unpack_generic(src, 0, len, bits, lv);
    lsrc = lv;
  }
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    if (kAdd && (k % 32) == 0) prefetch_ahead(o + k, kPrefetchFloats);  // the accumulator streams
    __m256i l;
    if (B == 4) {
      uint32_t w;
      memcpy(&w, src + k / 2, 4);
      l = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w)),
                                             _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                           _mm256_set1_epi32(15));
    } else if (B == 2) {
      uint16_t w;
      memcpy(&w, src + k / 4, 2);
      l = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(w), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                           _mm256_set1_epi32(3));
    } else if (B == 1) {
      l = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(src[k / 8]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                           _mm256_set1_epi32(1));
    } else {  // B == 8 or bytes in lv
      l = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(lsrc + k)));
    }
    __m256 val = _mm256_fmadd_ps(vs, _mm256_cvtepi32_ps(l), vm);
    if (kAdd) val = _mm256_add_ps(_mm256_loadu_ps(o + k), val);
    _mm256_storeu_ps(o + k, val);
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

GW_T bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
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

void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  if (add)
    decode_dispatch<true>(L, in, n, out);
  else
    decode_dispatch<false>(L, in, n, out);
}

}  // namespace maxmin
}  // namespace gw
#endif  // GW_MAXMIN_X86
