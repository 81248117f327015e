// "bf16": each float32 becomes one 2-byte value, little-endian: bfloat16 (the
// upper 16 bits of the float32, rounded to nearest even).
// Deterministic rounding (not unbiased). NaN stays NaN (quieted), +-Inf stays
// +-Inf; a non-finite input sets *nonfinite. Conversions: common/half.h.
#pragma once

#include "core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kBf16CompressorId = 3;

class Bf16Compressor final : public Compressor {
 public:
  uint16_t id() const override { return kBf16CompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override { return 2 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;

 private:
  std::string spec_ = "bf16";
};

void register_bf16(Registry& r);

}  // namespace gw
