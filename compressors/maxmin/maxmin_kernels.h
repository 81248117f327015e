// Internal to the maxmin codec: the per-bucket math shared by the scalar, AVX2
// and AVX-512 kernels (see maxmin.h for the formulas and the payload layout).
// Levels are packed with common/bitpack.h.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "compressors/common/bitpack.h"
#include "src/common/rng.h"

namespace gw {
namespace maxmin {

struct Layout {
  int bits;
  size_t bucket;          // S
  uint32_t levels;        // L = 2^bits - 1
  size_t packed_bucket;   // P = ceil(S * bits / 8)

  size_t packed_bytes(size_t len) const { return (len * static_cast<size_t>(bits) + 7) / 8; }
  size_t num_buckets(size_t n) const { return (n + bucket - 1) / bucket; }
  size_t total_bytes(size_t n) const {
    return 8 * num_buckets(n) + (n / bucket) * packed_bucket + packed_bytes(n % bucket);
  }
};

struct BucketParams {
  float min;    // stored
  float scale;  // stored
  float inv;    // 1 / scale (0 when scale is 0)
};

inline BucketParams bucket_params(float mn, float mx, bool nonfinite, uint32_t levels) {
  BucketParams p;
  if (nonfinite) {
    uint32_t nan = 0x7fc00000u;
    memcpy(&p.min, &nan, 4);
    p.scale = 0.0f;
    p.inv = 0.0f;
    return p;
  }
  p.min = mn + 0.0f;  // -0 -> +0, so every path stores the same bits
  float scale = (mx - p.min) / static_cast<float>(levels);
  if (!(scale >= FLT_MIN)) {
    scale = 0.0f;
  } else if (scale > FLT_MAX) {
    scale = FLT_MAX;
  }
  p.scale = scale;
  p.inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  return p;
}

// Level of one value: exactly what the SIMD kernels compute per lane
// (min(t, L) with minps semantics, then truncation; t >= 0 here).
inline uint32_t quantize_one(float x, const BucketParams& p, float levels_f, uint64_t key, uint32_t i) {
  float d = x - p.min;
  float u = static_cast<float>(rng_sr16(key, i)) * kSrUnit;
  float t = std::fma(d, p.inv, u);
  t = t < levels_f ? t : levels_f;
  return static_cast<uint32_t>(static_cast<int32_t>(t));
}

inline float dequantize_one(uint32_t level, const BucketParams& p) {
  return std::fma(p.scale, static_cast<float>(level), p.min);
}

// Kernels over a whole buffer. encode returns true when some value was NaN/Inf.
bool encode_scalar(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_scalar(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_MAXMIN_X86 1
bool encode_avx2(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_avx2(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
bool encode_avx512(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key);
void decode_avx512(const Layout& L, const uint8_t* in, size_t n, float* out, bool add);
#else
#define GW_MAXMIN_X86 0
#endif

}  // namespace maxmin
}  // namespace gw
