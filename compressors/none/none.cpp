#include "compressors/none/none.h"

#include <cstring>
#include <memory>

#include "src/common/error.h"
#include "src/spec/registry.h"

namespace gw {

CompressorTraits NoneCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.linear = true;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  return t;
}

size_t NoneCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t, bool* nonfinite) const {
  // Copy and look for NaN/Inf in one pass (an all-ones exponent); the loop vectorizes.
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    memcpy(&u, x + i, 4);
    bad |= static_cast<uint32_t>((u & 0x7f800000u) == 0x7f800000u);
    memcpy(out + 4 * i, &u, 4);
  }
  if (nonfinite && bad) *nonfinite = true;
  return 4 * n;
}

void NoneCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, "none: payload of ", bytes, " bytes for ", n,
             " values (want ", encoded_bytes(n), ")");
  if (n) memcpy(out, in, 4 * n);
}

void NoneCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, "none: payload of ", bytes, " bytes for ", n,
             " values (want ", encoded_bytes(n), ")");
  for (size_t i = 0; i < n; ++i) {
    float v;
    memcpy(&v, in + 4 * i, 4);
    acc[i] += v;
  }
}

void register_none(Registry& r) {
  r.add("none", [](SpecReader&) -> std::unique_ptr<Compressor> { return std::make_unique<NoneCompressor>(); });
}

}  // namespace gw
