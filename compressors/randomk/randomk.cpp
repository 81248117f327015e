#include "compressors/randomk/randomk.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/spec/registry.h"
#include "compressors/common/sparse_count.h"

namespace gw {

RandomkCompressor::RandomkCompressor(double density) : density_(density) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", density);
  spec_ = std::string("randomk:density=") + buf;
}

size_t RandomkCompressor::k(size_t n) const { return sparse::k_for(n, density_); }

CompressorTraits RandomkCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.linear = false;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  t.whole_layer = true;  // k per layer, and no SRA re-encode that would sample twice
  t.shared_key = true;
  return t;
}

template <typename Visit>
void RandomkCompressor::strata(size_t n, uint64_t key, Visit&& visit) const {
  const size_t k = this->k(n);
  for (size_t j = 0; j < k; ++j) {
    const size_t a = n * j / k, len = n * (j + 1) / k - a;
    const size_t pos = a + static_cast<size_t>((static_cast<uint64_t>(rng_u32(key, static_cast<uint32_t>(j))) * len) >> 32);
    visit(j, pos, len);
  }
}

size_t RandomkCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const {
  GW_REQUIRE(n < (uint64_t(1) << 32), GW_ERR_INVALID_ARGUMENT, spec_, ": a layer of ", n, " values is too long");
  std::memcpy(out, &rng_key, 8);
  uint32_t bad = 0;
  strata(n, rng_key, [&](size_t j, size_t pos, size_t len) {
    const float v = x[pos] * static_cast<float>(len);
    bad |= static_cast<uint32_t>(sparse::magnitude_key(v) >= 0x7f800000u);
    std::memcpy(out + 8 + 4 * j, &v, 4);
  });
  // Only kept values travel; a NaN elsewhere does not reach the result.
  if (bad && nonfinite) *nonfinite = true;
  return encoded_bytes(n);
}

void RandomkCompressor::check(size_t bytes, size_t n) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, spec_, ": payload of ", bytes, " bytes for ", n,
             " values (want ", encoded_bytes(n), ")");
}

void RandomkCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  check(bytes, n);
  std::memset(out, 0, n * sizeof(float));
  decode_add(in, bytes, n, out);
}

void RandomkCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  check(bytes, n);
  uint64_t key;
  std::memcpy(&key, in, 8);  // any key names in-range positions: a peer spoils only its own values
  strata(n, key, [&](size_t j, size_t pos, size_t) {
    float v;
    std::memcpy(&v, in + 8 + 4 * j, 4);
    acc[pos] += v;
  });
}

void register_randomk(Registry& r) {
  r.add("randomk", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    return std::make_unique<RandomkCompressor>(rd.get_double("density", 0.01, 1e-9, 1.0));
  });
}

}  // namespace gw
