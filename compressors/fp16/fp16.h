// "fp16": each float32 becomes one 2-byte value, little-endian: IEEE binary16
// (round to nearest even; |x| >= 65520 becomes +-Inf, subnormals kept).
// Deterministic rounding (not unbiased). NaN stays NaN (quieted), +-Inf stays
// +-Inf; a non-finite input sets *nonfinite. Conversions: common/half.h.
#pragma once

#include "core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kFp16CompressorId = 2;

class Fp16Compressor final : public Compressor {
 public:
  uint16_t id() const override { return kFp16CompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override { return 2 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;

 private:
  std::string spec_ = "fp16";
};

void register_fp16(Registry& r);

}  // namespace gw
