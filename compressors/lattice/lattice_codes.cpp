// LatticeCodes: the payload of one lattice round vector (lattice.h).
#include <cmath>
#include <cstring>

#include "compressors/common/bitpack.h"
#include "compressors/lattice/lattice.h"
#include "compressors/lattice/lattice_kernels.h"
#include "src/common/cpu_features.h"
#include "src/common/error.h"
#include "src/common/rng.h"

namespace gw {
namespace {

using lattice::Check;
using lattice::kUnit;
using lattice::UnitResult;
using lattice::units_of;

constexpr size_t kHead = 12;  // per unit: f32 spacing, two u32 hashes

size_t codes_bytes(size_t len, int bits) { return (len * static_cast<size_t>(bits) + 7) / 8; }

// The dither and the rounding draw from two streams of the sender's key.
uint64_t rounding_key(uint64_t key) { return rng_mix64(key ^ 0x6c61747469636521ull); }

// One unit's layout in a round vector / payload of n floats.
struct Units {
  size_t n, units, values;
  explicit Units(size_t n_) : n(n_), units(units_of(n_)), values(n_ - units_of(n_)) {}
  size_t len(size_t u) const { return u + 1 < units ? kUnit : values - u * kUnit; }
};

// The check also covers the unit's spacing and the sender's key (which set
// the dither), so damage to either is seen as well as damage to a code.
Check sealed(Check c, float eps, uint64_t key) {
  uint32_t bits;
  std::memcpy(&bits, &eps, 4);
  const uint64_t m = rng_mix64(key ^ (static_cast<uint64_t>(bits) << 32 | bits));
  c.h1 += static_cast<uint32_t>(m);
  c.h2 += static_cast<uint32_t>(m >> 32);
  return c;
}

// The AVX2 loops where the CPU has them (GW_CPU_ISA=scalar forces the reference): the same bits.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
bool use_avx2() { return cpu_isa() != CpuIsa::SCALAR; }
#else
bool use_avx2() { return false; }
#endif

Check encode_unit(const float* v, size_t len, uint32_t first, double e, uint64_t key, uint64_t rkey, uint32_t mask,
                  uint8_t* lv) {
  return use_avx2() ? lattice::encode_unit_avx2(v, len, first, e, key, rkey, mask, lv)
                    : lattice::encode_unit_scalar(v, len, first, e, key, rkey, mask, lv);
}

UnitResult decode_unit(const float* w, const uint8_t* lv, size_t len, uint32_t first, double e, uint64_t key, double q,
                       float* o, bool add) {
  return use_avx2() ? lattice::decode_unit_avx2(w, lv, len, first, e, key, q, o, add)
                    : lattice::decode_unit_scalar(w, lv, len, first, e, key, q, o, add);
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
      check = sealed(encode_unit(v, len, static_cast<uint32_t>(first), eps, rng_key, rkey, mask, lv), eps, rng_key);
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
    const UnitResult r = decode_unit(w, lv, len, static_cast<uint32_t>(first), eps, key, q, o, add);
    // A reference of ours that holds NaN/Inf makes the unit NaN on every rank
    // anyway (our own payload says so): nothing to check there.
    if (!r.nonfinite && (r.far || !(sealed(r.check, eps, key) == want))) missed->push_back(static_cast<uint32_t>(u));
  }
}

}  // namespace gw
