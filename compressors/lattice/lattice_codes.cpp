// LatticeCodes: the payload of one lattice round vector (lattice.h).
#include <cmath>
#include <cstring>

#include "compressors/common/bitpack.h"
#include "compressors/lattice/lattice.h"
#include "src/common/error.h"
#include "src/common/rng.h"

namespace gw {
namespace {

using lattice::kUnit;
using lattice::units_of;

constexpr size_t kHead = 12;  // per unit: f32 spacing, two u32 hashes

size_t codes_bytes(size_t len, int bits) { return (len * static_cast<size_t>(bits) + 7) / 8; }

// The dither and the rounding draw from two streams of the sender's key.
uint64_t rounding_key(uint64_t key) { return rng_mix64(key ^ 0x6c61747469636521ull); }

// Past this |z| a double no longer holds the integers exactly: a value that
// far from its reference (a spacing far too small) cannot be decoded, and its
// unit's check fails.
constexpr double kMaxLatticeIndex = 4503599627370496.0;  // 2^52

// The check of a unit: two 32-bit hashes of the low 32 bits of its integers,
// sum of zlo_g * (odd multiplier of g), mod 2^32 each. Linear in 32-bit lanes,
// so the loops vectorize. A decode that went wrong changes some z by a multiple
// of q = 2^B; it goes unseen only if both hashes miss it, about 2^-(64 - 2B)
// for errors spread over the unit, never for one value off by less than 2^(32-B) q.
inline uint32_t mult1(uint32_t g) { return (2u * g + 1u) * 0x9E3779B9u; }
inline uint32_t mult2(uint32_t g) { return (2u * g + 1u) * 0x85EBCA6Bu; }

// The low 32 bits of an integer-valued double |z| < 2^52, without 64-bit lanes.
inline uint32_t low32(double z) {
  const double lo = z - 4294967296.0 * std::floor(z * (1.0 / 4294967296.0));  // in [0, 2^32)
  return static_cast<uint32_t>(static_cast<int32_t>(lo - 2147483648.0)) ^ 0x80000000u;
}

inline double uniform(uint64_t key, uint32_t g) {  // rng_uniform, through int32 (the lanes convert it)
  return static_cast<double>(static_cast<int32_t>(rng_u32(key, g) >> 8)) * (1.0 / 16777216.0);
}

struct Check {
  uint32_t h1 = 0, h2 = 0;
  bool operator==(const Check& o) const { return h1 == o.h1 && h2 == o.h2; }
};

// One unit's layout in a round vector / payload of n floats.
struct Units {
  size_t n, units, values;
  explicit Units(size_t n_) : n(n_), units(units_of(n_)), values(n_ - units_of(n_)) {}
  size_t len(size_t u) const { return u + 1 < units ? kUnit : values - u * kUnit; }
};


// AVX2 and baseline clones of the per-value loops, picked once by the loader:
// the same double operations in the same order (no contraction: the file is
// built with -ffp-contract=off), so the same bits either way; the AVX2 one has
// floor and nearbyint as instructions instead of calls.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_LATTICE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GW_LATTICE_CLONES
#endif

// One unit's codes (lv) and its check; e > 0, values finite.
GW_LATTICE_CLONES Check encode_unit(const float* v, size_t len, uint32_t first, double e, uint64_t key,
                                    uint64_t rkey, uint32_t mask, uint8_t* lv) {
  const double inv = 1.0 / e;
  uint32_t h1 = 0, h2 = 0;
  for (size_t i = 0; i < len; ++i) {
    const uint32_t g = first + static_cast<uint32_t>(i);
    const double theta = e * uniform(key, g);
    double t = (v[i] - theta) * inv;
    t = std::fmax(-kMaxLatticeIndex, std::fmin(kMaxLatticeIndex, t));
    double z = std::floor(t);
    z += uniform(rkey, g) < t - z ? 1.0 : 0.0;  // unbiased: P(up) = the fraction
    const uint32_t zl = low32(z);
    lv[i] = static_cast<uint8_t>(zl & mask);
    h1 += zl * mult1(g);
    h2 += zl * mult2(g);
  }
  return Check{h1, h2};
}

enum class UnitDecode { kChecked, kLost, kUncheckable };

// One unit decoded against w (o = values, or o += values with kAdd), the
// check of the integers it found in *check. kLost: some value too far from its
// reference to decode at all; kUncheckable: our own reference holds NaN/Inf there.
template <bool kAdd>
GW_LATTICE_CLONES UnitDecode decode_unit(const float* w, const uint8_t* lv, size_t len, uint32_t first, double e,
                                         uint64_t key, double q, float* o, Check* check) {
  const double inv = 1.0 / e, inv_q = 1.0 / q;
  uint32_t h1 = 0, h2 = 0;
  int far = 0, nonfinite = 0;
  for (size_t i = 0; i < len; ++i) {
    const uint32_t g = first + static_cast<uint32_t>(i);
    const double theta = e * uniform(key, g);
    const bool finite = std::fabs(w[i]) <= 3.4028234663852886e38;  // false for NaN and Inf
    const double t = finite ? (static_cast<double>(w[i]) - theta) * inv : 0.0;
    far |= std::fabs(t) > kMaxLatticeIndex;
    nonfinite |= !finite;
    const double tc = std::fmax(-kMaxLatticeIndex, std::fmin(kMaxLatticeIndex, t));
    const double c = lv[i];
    const double z = c + q * std::nearbyint((tc - c) * inv_q);  // = code (mod q), nearest to t
    const uint32_t zl = low32(z);
    h1 += zl * mult1(g);
    h2 += zl * mult2(g);
    const float value = finite ? static_cast<float>(theta + e * z) : NAN;
    o[i] = kAdd ? o[i] + value : value;
  }
  *check = Check{h1, h2};
  return nonfinite ? UnitDecode::kUncheckable : far ? UnitDecode::kLost : UnitDecode::kChecked;
}

}  // namespace

LatticeCodes::LatticeCodes(int bits) : bits_(bits), spec_("lattice-codes:bits=" + std::to_string(bits)) {}

CompressorTraits LatticeCodes::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.whole_layer = true;  // the units are laid out over the whole vector
  t.decodes_near_reference = true;
  return t;
}

size_t LatticeCodes::encoded_bytes(size_t n) const {
  const Units L(n);
  if (!L.units) return 8;
  return 8 + kHead * L.units + (L.units - 1) * codes_bytes(kUnit, bits_) + codes_bytes(L.len(L.units - 1), bits_);
}

size_t LatticeCodes::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const {
  const Units L(n);
  std::memcpy(out, &rng_key, 8);
  uint8_t* head = out + 8;
  uint8_t* codes = head + kHead * L.units;
  const uint64_t rkey = rounding_key(rng_key);
  const uint32_t mask = (1u << bits_) - 1;
  uint8_t lv[kUnit];
  for (size_t u = 0; u < L.units; ++u) {
    float eps = x[u];
    GW_REQUIRE(eps > 0 && std::isfinite(eps), GW_ERR_INTERNAL, spec_, ": unit ", u, " has spacing ", eps);
    const size_t len = L.len(u), first = u * kUnit;
    const float* v = x + L.units + first;
    bool finite = true;
    for (size_t i = 0; i < len; ++i) finite &= std::isfinite(v[i]);
    Check check;
    if (!finite) {  // the whole unit decodes to NaN: nothing to round
      *nonfinite = true;
      eps = NAN;
      std::memset(lv, 0, len);
    } else {
      check = encode_unit(v, len, static_cast<uint32_t>(first), eps, rng_key, rkey, mask, lv);
    }
    std::memcpy(head + kHead * u, &eps, 4);
    std::memcpy(head + kHead * u + 4, &check.h1, 4);
    std::memcpy(head + kHead * u + 8, &check.h2, 4);
    bitpack::pack(lv, len, bits_, codes);
    codes += codes_bytes(len, bits_);
  }
  return encoded_bytes(n);
}

void LatticeCodes::decode(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec_, " decodes only against a reference (decode_near)");
}
void LatticeCodes::decode_add(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec_, " decodes only against a reference (decode_near)");
}

void LatticeCodes::decode_near(const uint8_t* in, size_t bytes, size_t n, const float* ref, float* out, bool add,
                               std::vector<uint32_t>* missed) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, spec_, " payload of ", bytes, " bytes for ", n,
             " values (expected ", encoded_bytes(n), ")");
  const Units L(n);
  uint64_t key;
  std::memcpy(&key, in, 8);
  const uint8_t* head = in + 8;
  const uint8_t* codes = head + kHead * L.units;
  const double q = static_cast<double>(1u << bits_);
  uint8_t lv[kUnit];
  if (!add)
    for (size_t u = 0; u < L.units; ++u) out[u] = 0.0f;  // the spacings' slots carry no value
  for (size_t u = 0; u < L.units; ++u) {
    float eps;
    Check want;
    std::memcpy(&eps, head + kHead * u, 4);
    std::memcpy(&want.h1, head + kHead * u + 4, 4);
    std::memcpy(&want.h2, head + kHead * u + 8, 4);
    const size_t len = L.len(u), first = u * kUnit;
    const float* w = ref + L.units + first;
    float* o = out + L.units + first;
    if (std::isnan(eps)) {  // the sender's unit held NaN/Inf
      for (size_t i = 0; i < len; ++i) o[i] = NAN;
      codes += codes_bytes(len, bits_);
      continue;
    }
    GW_REQUIRE(eps > 0 && std::isfinite(eps), GW_ERR_CORRUPT, spec_, " unit ", u, " has spacing ", eps);
    bitpack::unpack(codes, len, bits_, lv);  // any B-bit code is a residue mod q
    codes += codes_bytes(len, bits_);
    Check got;
    const uint32_t g0 = static_cast<uint32_t>(first);
    const UnitDecode r = add ? decode_unit<true>(w, lv, len, g0, eps, key, q, o, &got)
                             : decode_unit<false>(w, lv, len, g0, eps, key, q, o, &got);
    if (r == UnitDecode::kLost || (r == UnitDecode::kChecked && !(got == want))) missed->push_back(static_cast<uint32_t>(u));
  }
}

}  // namespace gw
