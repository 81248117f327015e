// "none": the uncompressed baseline. Payload = the float32 values, little-endian
// (4 bytes each, native order on the little-endian hosts gradwire supports).
// Exact and linear; NaN/Inf pass through unchanged (and set *nonfinite).
#pragma once

#include "src/core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kNoneCompressorId = 1;

class NoneCompressor final : public Compressor {
 public:
  uint16_t id() const override { return kNoneCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override { return 4 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;

 private:
  std::string spec_ = "none";
};

void register_none(Registry& r);

}  // namespace gw
