// The Compressor face of a round scheme (round_codec.h): what every such family
// shares. Its spec, traits and registration are the family's; a single payload
// of the whole layer never travels (the rounds' vectors do, in factor_codec()),
// so encode and decode are an internal error and encoded_bytes is the bound of
// a raw copy.
#pragma once

#include "src/core/compressor.h"
#include "src/scheme/round_codec.h"

namespace gw {

class RoundSchemeCompressor : public Compressor, public RoundCodec {
 public:
  size_t encoded_bytes(size_t n) const override { return 4 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const final;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const final;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const final;
  const RoundCodec* round_codec() const final { return this; }
};

}  // namespace gw
