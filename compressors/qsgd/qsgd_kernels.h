// Internal to the qsgd and nuq codecs: the sign + level quantizer they share.
// Both store one float32 scale per bucket and one B-bit code per value, code =
// level | sign << (B-1); they differ in the scale (l2 norm or max |v|) and in the
// magnitude levels (uniform l/s for qsgd, exponential 2^(l-s) for nuq). See
// qsgd.h and nuq/nuq.h for the formulas and the payload layout.
//
// Every path (scalar reference here and in qsgd.cpp, AVX2, AVX-512, the CUDA twin
// in qsgd.cu) uses exactly the float operations written below, with explicit fma
// where there is a multiply-add, so payloads and decodes are bit-identical. The
// bucket math that is not per element (l2 norm from the exact integer sum of
// squares, scale, 1/scale) is GW_HOST_DEVICE and shared with the GPU as is.
// Codes are packed with common/bitpack.h.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "compressors/common/bitpack.h"
#include "src/common/rng.h"

namespace gw {

class Compressor;
class DeviceCompressor;

namespace qsgd {

// Which quantizer: qsgd with norm=l2, qsgd with norm=max, nuq (l2 norm).
enum Kind : int { QSGD_L2 = 0, QSGD_MAX = 1, NUQ = 2 };

// Scales below this (buckets of zeros or of values under ~2^-118) are stored as
// 0 and decode to zeros: it keeps s / scale finite for every s <= 127.
constexpr float kMinScale = 0x1p-118f;
// 2^52 as a double: fma(d, d*P, 2^52) rounds d*d*P (< 2^50) to an integer held in
// the low mantissa bits, bits(result) = kMagicBits + that integer.
constexpr uint64_t kMagicBits = 0x4330000000000000ull;

struct Layout {
  Kind kind;
  int bits;              // B, 2..8, sign included
  size_t bucket;         // S
  uint32_t s;            // 2^(B-1) - 1 levels (qsgd) / nonzero levels (nuq)
  size_t packed_bucket;  // P = ceil(S * B / 8)

  size_t packed_bytes(size_t len) const { return (len * static_cast<size_t>(bits) + 7) / 8; }
  size_t num_buckets(size_t n) const { return (n + bucket - 1) / bucket; }
  size_t total_bytes(size_t n) const {
    return 4 * num_buckets(n) + (n / bucket) * packed_bucket + packed_bytes(n % bucket);
  }
};

inline Layout make_layout(Kind kind, int bits, int bucket) {
  Layout L;
  L.kind = kind;
  L.bits = bits;
  L.bucket = static_cast<size_t>(bucket);
  L.s = (1u << (bits - 1)) - 1u;
  L.packed_bucket = L.packed_bytes(L.bucket);
  return L;
}

GW_HOST_DEVICE inline uint32_t f2u(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}
GW_HOST_DEVICE inline float u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}
GW_HOST_DEVICE inline double u2d(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double d;
  memcpy(&d, &u, 8);
  return d;
#endif
}

// ---- the l2 norm, exactly -------------------------------------------------------
// With e the exponent of max|v| (2^e <= max|v| < 2^(e+1); e = -126 for subnormal
// or zero maxima) and P = 2^(48 - 2e), every term v_i^2 * P is < 2^50 and is rounded
// to an integer k_i (round to nearest even, in one double fma: v_i^2 is exact in
// double). The integers are summed in uint64 (exact, so any order gives the same
// sum: SIMD lanes, GPU shuffles), sum < 8192 * 2^50 = 2^63, and
//   norm = float( sqrt(double(sum)) * 2^(e - 24) )     (correctly rounded steps)
// The term of max|v| is exact (4 m^2 for its 24-bit significand m), so norm >=
// max|v|, which keeps s * |v| / norm <= s up to the rounding of 1/norm.

GW_HOST_DEVICE inline int amax_exponent(float amax) {
  int eb = static_cast<int>(f2u(amax) >> 23);  // amax >= 0
  return (eb < 1 ? 1 : eb) - 127;
}
// P = 2^(48 - 2e) as a double.
GW_HOST_DEVICE inline double sumsq_factor(int e) { return u2d(static_cast<uint64_t>(1023 + 48 - 2 * e) << 52); }
// The l2 norm from the integer sum of squares (inf when it overflows float).
GW_HOST_DEVICE inline float l2_from_sum(uint64_t sum, int e) {
  double ss = static_cast<double>(static_cast<int64_t>(sum));
  double r = sqrt(ss) * u2d(static_cast<uint64_t>(1023 + e - 24) << 52);
  return static_cast<float>(r);
}

// Host reference of one term: kMagicBits + round(v^2 * P).
inline uint64_t sumsq_term(float v, double P) {
  double d = static_cast<double>(v);
  double t = std::fma(d, d * P, 0x1p52);
  uint64_t b;
  memcpy(&b, &t, 8);
  return b;
}

// The host SIMD kernels add bits(fma(v, v, C)) with C = 2^(2e+4) instead, one
// multiply less, and the same k: v^2 < 2^(2e+2), so the exact v^2 + C lies in
// [C, 2C), where doubles are spaced 2^(2e-48) = 1/P apart; rounded to nearest
// even it is C + k / P with k = round(v^2 * P) as above (ties to even k), held in
// the low mantissa bits: bits = bits(C) + k.
GW_HOST_DEVICE inline double sumsq_addend(int e) { return u2d(static_cast<uint64_t>(1023 + 2 * e + 4) << 52); }
GW_HOST_DEVICE inline uint64_t sumsq_addend_bits(int e) { return static_cast<uint64_t>(1023 + 2 * e + 4) << 52; }
inline uint64_t sumsq_addend_term(float v, double c) {
  double d = static_cast<double>(v);
  double t = std::fma(d, d, c);
  uint64_t b;
  memcpy(&b, &t, 8);
  return b;
}

struct BucketParams {
  float scale;  // stored (NaN for a non-finite bucket, 0 below kMinScale)
  float inv;    // qsgd: s / scale; nuq: 1 / scale; 0 when scale is 0 or NaN
  float dec;    // qsgd decode step scale / s (nuq decodes with scale)
};

// From the raw scale (l2 norm or max|v|) of a bucket.
GW_HOST_DEVICE inline BucketParams bucket_params(Kind kind, float raw, bool nonfinite, uint32_t s) {
  BucketParams p;
  p.inv = 0.0f;
  p.dec = 0.0f;
  if (nonfinite) {
    p.scale = u2f(0x7fc00000u);
    return p;
  }
  float scale = raw;
  if (!(scale >= kMinScale)) {
    scale = 0.0f;
  } else if (scale > FLT_MAX) {
    scale = FLT_MAX;
  }
  p.scale = scale;
  if (scale > 0.0f) {
    const float sf = static_cast<float>(s);
    p.inv = kind == NUQ ? 1.0f / scale : sf / scale;
    p.dec = scale / sf;
  }
  return p;
}

// What a decoder derives from a stored scale (any bits: payloads are untrusted).
GW_HOST_DEVICE inline BucketParams decode_params(float scale, uint32_t s) {
  BucketParams p;
  p.scale = scale;
  p.inv = 0.0f;
  p.dec = scale / static_cast<float>(s);
  return p;
}

// ---- per element (host reference; the SIMD and CUDA kernels mirror it) ----------

// qsgd: l = trunc(min(fma(|x|, s/scale, u), s)), u = U * 2^-16 (U = rng_sr16).
inline uint32_t qsgd_level(float ax, float inv, float sf, uint32_t U) {
  float u = static_cast<float>(U) * kSrUnit;
  float t = std::fma(ax, inv, u);
  t = t < sf ? t : sf;
  return static_cast<uint32_t>(static_cast<int32_t>(t));
}

// nuq: levels g(0) = 0, g(l) = 2^(l-s). With y = min(|x| / scale, 1) (as |x| * inv):
//   y >= 2^(1-s): k = exponent(y) + s >= 1, y = 2^(k-s) (1 + m / 2^23), and
//                 l = k + (U * 2^7 < m)       (probability ceil(m / 2^7) / 2^16)
//   y <  2^(1-s): l = (u < y * 2^(s-1))        (probability y / 2^(1-s), to 2^-16)
// U = rng_sr16(...), u = U * 2^-16.
inline uint32_t nuq_level(float ax, float inv, uint32_t s, float c_lo, uint32_t U) {
  float y = ax * inv;
  y = y < 1.0f ? y : 1.0f;
  uint32_t yb = f2u(y);
  int32_t k = static_cast<int32_t>(yb >> 23) - 127 + static_cast<int32_t>(s);
  if (k >= 1) return static_cast<uint32_t>(k) + ((U << 7) < (yb & 0x7fffffu) ? 1u : 0u);
  float u = static_cast<float>(U) * kSrUnit;
  return u < y * c_lo ? 1u : 0u;
}

// The code of x: level | sign << (B-1), the sign bit only with a nonzero level.
template <int KIND>
inline uint32_t quantize_one(float x, const BucketParams& p, uint32_t s, float sf, float c_lo, int bits,
                             uint64_t key, uint32_t i) {
  uint32_t xb = f2u(x);
  float ax = u2f(xb & 0x7fffffffu);
  uint32_t U = rng_sr16(key, i);
  uint32_t l = KIND == NUQ ? nuq_level(ax, p.inv, s, c_lo, U) : qsgd_level(ax, p.inv, sf, U);
  return l | (l ? (xb >> 31) << (bits - 1) : 0u);
}

// Decoded value of a code: qsgd +-(scale/s) * l; nuq +-scale * 2^(l-s) (0 for l = 0).
template <int KIND>
GW_HOST_DEVICE inline float dequantize_one(uint32_t code, const BucketParams& p, uint32_t s, int bits) {
  const uint32_t l = code & ((1u << (bits - 1)) - 1u);
  const uint32_t sg = (code >> (bits - 1)) << 31;
  float mag;
  if (KIND == NUQ) {
    const float g = l ? u2f((l + 127u - s) << 23) : 0.0f;
#if defined(__CUDA_ARCH__)
    mag = __fmul_rn(p.scale, g);
#else
    mag = p.scale * g;
#endif
  } else {
#if defined(__CUDA_ARCH__)
    mag = __fmul_rn(p.dec, __uint2float_rn(l));
#else
    mag = p.dec * static_cast<float>(l);
#endif
  }
  return u2f(f2u(mag) | sg);
}

// 2^(s-1): the nuq probability factor below the smallest nonzero level.
GW_HOST_DEVICE inline float nuq_c_lo(uint32_t s) { return u2f((s - 1u + 127u) << 23); }

// The codes of v[0..len) (element i0 + k, mod 2^32) packed into dst by the
// reference above (lv: len bytes of scratch): the scalar kernel's bucket loop,
// and the SIMD kernels' fallback for runs whose indices wrap past 2^32.
template <int KIND>
inline void quantize_codes_scalar(const float* v, size_t len, const BucketParams& p, const Layout& L, uint64_t key,
                                  uint32_t i0, uint8_t* dst, uint8_t* lv) {
  const float sf = static_cast<float>(L.s), c_lo = nuq_c_lo(L.s);
  for (size_t k = 0; k < len; ++k)
    lv[k] = static_cast<uint8_t>(
        quantize_one<KIND>(v[k], p, L.s, sf, c_lo, L.bits, key, i0 + static_cast<uint32_t>(k)));
  bitpack::pack(lv, len, L.bits, dst);
}

// Kernels over a whole buffer (n >= 1). encode returns true when some value was NaN/Inf.
bool encode_scalar(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_scalar(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_QSGD_X86 1
bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
bool encode_avx512(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_avx512(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
#else
#define GW_QSGD_X86 0
#endif

// The path cpu_isa() picks (n may be 0). Returns true when some value was NaN/Inf.
bool encode(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
// Checks bytes == total_bytes(n) (GW_ERR_CORRUPT naming `spec` otherwise), then decodes.
void decode(const Layout& L, const char* spec, const uint8_t* in, size_t bytes, size_t n, float* out, bool add);

// The CUDA twin of a host codec with layout L (defined in qsgd.cu, CUDA builds only;
// make_device_qsgd / make_device_nuq call it).
std::unique_ptr<DeviceCompressor> make_device(const Compressor& host, const Layout& L);

}  // namespace qsgd
}  // namespace gw
