// A Compressor whose own single payload never travels: round schemes (their
// rounds' vectors do) and adaptive families (their planned candidate's codec
// does). Its spec, traits and registration are the family's; encode and
// decode are an internal error saying how it travels instead, and
// encoded_bytes is the bound of a raw copy.
#pragma once

#include "src/core/compressor.h"

namespace gw {

class FacadeCompressor : public Compressor {
 public:
  size_t encoded_bytes(size_t n) const override { return 4 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const final;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const final;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const final;

 protected:
  // How its layers travel instead ("runs through its rounds").
  virtual const char* travels_as() const = 0;
};

}  // namespace gw
