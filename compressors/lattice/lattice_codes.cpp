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

size_t codes_bytes(size_t len, int bits) { return (len * static_cast<size_t>(bits) + 7) / 8; }

// The dither and the rounding draw from two streams of the sender's key.
uint64_t rounding_key(uint64_t key) { return rng_mix64(key ^ 0x6c61747469636521ull); }

// Past this |z| a double no longer holds the integers exactly: a value that
// far from its reference (a spacing far too small) cannot be decoded, and its
// unit's check fails.
constexpr double kMaxLatticeIndex = 4503599627370496.0;  // 2^52

// The hash of a unit's integers: sum of z_g * (odd multiplier of g), mod 2^64,
// top half. Linear, so it vectorizes; an error of a multiple of q in one
// coordinate changes it, as any few do with probability about 1 - 2^-32.
inline uint64_t hash_term(int64_t z, uint32_t g) {
  return static_cast<uint64_t>(z) * ((2ull * g + 1) * 0x9E3779B97F4A7C15ull);
}

// One unit's layout in a round vector / payload of n floats.
struct Units {
  size_t n, units, values;
  explicit Units(size_t n_) : n(n_), units(units_of(n_)), values(n_ - units_of(n_)) {}
  size_t len(size_t u) const { return u + 1 < units ? kUnit : values - u * kUnit; }
};

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
  return 8 + 8 * L.units + (L.units - 1) * codes_bytes(kUnit, bits_) + codes_bytes(L.len(L.units - 1), bits_);
}

size_t LatticeCodes::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const {
  const Units L(n);
  std::memcpy(out, &rng_key, 8);
  uint8_t* head = out + 8;
  uint8_t* codes = head + 8 * L.units;
  const uint64_t rkey = rounding_key(rng_key);
  const uint64_t mask = (uint64_t(1) << bits_) - 1;
  uint8_t lv[kUnit];
  for (size_t u = 0; u < L.units; ++u) {
    float eps = x[u];
    GW_REQUIRE(eps > 0 && std::isfinite(eps), GW_ERR_INTERNAL, spec_, ": unit ", u, " has spacing ", eps);
    const size_t len = L.len(u), first = u * kUnit;
    const float* v = x + L.units + first;
    bool finite = true;
    for (size_t i = 0; i < len; ++i) finite &= std::isfinite(v[i]);
    uint64_t h = 0;
    if (!finite) {  // the whole unit decodes to NaN: nothing to round
      *nonfinite = true;
      eps = NAN;
      std::memset(lv, 0, len);
    } else {
      const double e = eps;
      for (size_t i = 0; i < len; ++i) {
        const uint32_t g = static_cast<uint32_t>(first + i);
        const double theta = e * rng_uniform(rng_key, g);
        double t = (v[i] - theta) / e;
        t = std::fmax(-kMaxLatticeIndex, std::fmin(kMaxLatticeIndex, t));
        double z = std::floor(t);
        z += rng_uniform(rkey, g) < t - z ? 1.0 : 0.0;  // unbiased: P(up) = the fraction
        const int64_t zi = static_cast<int64_t>(z);
        lv[i] = static_cast<uint8_t>(static_cast<uint64_t>(zi) & mask);
        h += hash_term(zi, g);
      }
    }
    const uint32_t h32 = static_cast<uint32_t>(h >> 32);
    std::memcpy(head + 8 * u, &eps, 4);
    std::memcpy(head + 8 * u + 4, &h32, 4);
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
  const uint8_t* codes = head + 8 * L.units;
  const double q = static_cast<double>(1u << bits_);
  uint8_t lv[kUnit];
  if (!add)
    for (size_t u = 0; u < L.units; ++u) out[u] = 0.0f;  // the spacings' slots carry no value
  for (size_t u = 0; u < L.units; ++u) {
    float eps;
    uint32_t want;
    std::memcpy(&eps, head + 8 * u, 4);
    std::memcpy(&want, head + 8 * u + 4, 4);
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
    const double e = eps;
    uint64_t h = 0;
    bool checkable = true;  // false when our own reference holds NaN/Inf there
    bool lost = false;      // some value too far from its reference to decode at all
    for (size_t i = 0; i < len; ++i) {
      const uint32_t g = static_cast<uint32_t>(first + i);
      const double theta = e * rng_uniform(key, g);
      const double t = (static_cast<double>(w[i]) - theta) / e;
      float value;
      if (!std::isfinite(w[i])) {
        checkable = false;
        value = NAN;
      } else if (std::fabs(t) > kMaxLatticeIndex) {
        lost = true;
        value = 0.0f;
      } else {
        const double z = lv[i] + q * std::nearbyint((t - lv[i]) / q);  // = code (mod q), nearest to t
        h += hash_term(static_cast<int64_t>(z), g);
        value = static_cast<float>(theta + e * z);
      }
      o[i] = add ? o[i] + value : value;
    }
    if (checkable && (lost || static_cast<uint32_t>(h >> 32) != want)) missed->push_back(static_cast<uint32_t>(u));
  }
}

}  // namespace gw
