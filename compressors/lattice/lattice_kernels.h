// The per-value loops of the lattice codes (lattice_codes.cpp): the scalar
// reference here, an AVX2 twin in lattice_avx2.cpp that computes the same
// double operations in the same order (no contraction: both files are built
// with -ffp-contract=off), so the codes, the checks and the decoded values have
// the same bits on either path and every rank decodes the same integers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "src/common/rng.h"

namespace gw {
namespace lattice {

// Past this |z| a double no longer holds the integers exactly: a value that
// far from its reference (a spacing far too small) cannot be decoded, and its
// unit's check fails.
constexpr double kMaxIndex = 4503599627370496.0;  // 2^52
constexpr double kMaxFloat = 3.4028234663852886e38;
constexpr double kU24 = 1.0 / 16777216.0;

// The check of a unit: two 32-bit hashes of the low 32 bits of its integers,
// sum of zlo_g * (odd multiplier of g), mod 2^32 each. Linear in 32-bit lanes,
// so the loops vectorize. A decode that went wrong changes some z by a multiple
// of q = 2^B; it goes unseen only if both hashes miss it, about 2^-(64 - 2B)
// for errors spread over the unit, never for one value off by less than 2^(32-B) q.
constexpr uint32_t kMult1 = 0x9E3779B9u, kMult2 = 0x85EBCA6Bu;

struct Check {
  uint32_t h1 = 0, h2 = 0;
  bool operator==(const Check& o) const { return h1 == o.h1 && h2 == o.h2; }
  void add(const Check& o) {
    h1 += o.h1;
    h2 += o.h2;
  }
};

// What decoding one unit found: its check, whether some value was too far from
// its reference to decode at all, whether our own reference held NaN/Inf.
struct UnitResult {
  Check check;
  bool far = false, nonfinite = false;
  void add(const UnitResult& o) {
    check.add(o.check);
    far |= o.far;
    nonfinite |= o.nonfinite;
  }
};

// The low 32 bits of an integer-valued double |z| < 2^52, without 64-bit lanes.
inline uint32_t low32(double z) {
  const double lo = z - 4294967296.0 * std::floor(z * (1.0 / 4294967296.0));  // in [0, 2^32)
  return static_cast<uint32_t>(static_cast<int32_t>(lo - 2147483648.0)) ^ 0x80000000u;
}

// rng_uniform in double, through int32 as the lanes convert it.
inline double uniform(uint64_t key, uint32_t g) {
  return static_cast<double>(static_cast<int32_t>(rng_u32(key, g) >> 8)) * kU24;
}

// One unit's codes lv[0..len) and its check; e > 0, values finite. Element i
// is value index first + i of the vector (its dither and rounding streams).
inline Check encode_unit_scalar(const float* v, size_t len, uint32_t first, double e, uint64_t key,
                                uint64_t rkey, uint32_t mask, uint8_t* lv) {
  const double inv = 1.0 / e;
  Check c;
  for (size_t i = 0; i < len; ++i) {
    const uint32_t g = first + static_cast<uint32_t>(i);
    const double theta = e * uniform(key, g);
    double t = (v[i] - theta) * inv;
    t = std::fmax(-kMaxIndex, std::fmin(kMaxIndex, t));
    double z = std::floor(t);
    z = z + (uniform(rkey, g) < t - z ? 1.0 : 0.0);  // unbiased: P(up) = the fraction
    const uint32_t zl = low32(z);
    lv[i] = static_cast<uint8_t>(zl & mask);
    c.h1 += zl * ((2u * g + 1u) * kMult1);
    c.h2 += zl * ((2u * g + 1u) * kMult2);
  }
  return c;
}

// One unit decoded against w: o = values (o += values with add), each the
// integer = code (mod q) nearest to (w - theta) / e, times e, plus theta.
inline UnitResult decode_unit_scalar(const float* w, const uint8_t* lv, size_t len, uint32_t first, double e,
                                     uint64_t key, double q, float* o, bool add) {
  const double inv = 1.0 / e, inv_q = 1.0 / q;
  UnitResult r;
  for (size_t i = 0; i < len; ++i) {
    const uint32_t g = first + static_cast<uint32_t>(i);
    const double theta = e * uniform(key, g);
    const bool finite = std::fabs(static_cast<double>(w[i])) <= kMaxFloat;  // false for NaN and Inf
    const double t = finite ? (static_cast<double>(w[i]) - theta) * inv : 0.0;
    r.far |= std::fabs(t) > kMaxIndex;
    r.nonfinite |= !finite;
    const double tc = std::fmax(-kMaxIndex, std::fmin(kMaxIndex, t));
    const double c = lv[i];
    const double z = c + q * std::nearbyint((tc - c) * inv_q);
    const uint32_t zl = low32(z);
    r.check.h1 += zl * ((2u * g + 1u) * kMult1);
    r.check.h2 += zl * ((2u * g + 1u) * kMult2);
    const float value = finite ? static_cast<float>(theta + e * z) : NAN;
    o[i] = add ? o[i] + value : value;
  }
  return r;
}

// The AVX2 twins (lattice_avx2.cpp; x86-64 builds only): the same results.
Check encode_unit_avx2(const float* v, size_t len, uint32_t first, double e, uint64_t key, uint64_t rkey,
                       uint32_t mask, uint8_t* lv);
UnitResult decode_unit_avx2(const float* w, const uint8_t* lv, size_t len, uint32_t first, double e, uint64_t key,
                            double q, float* o, bool add);

}  // namespace lattice
}  // namespace gw
