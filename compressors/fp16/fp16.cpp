#include "fp16/fp16.h"

#include <memory>

#include "common/error.h"
#include "common/half.h"
#include "spec/registry.h"

namespace gw {

CompressorTraits Fp16Compressor::traits() const {
  CompressorTraits t;
  t.unbiased = false;
  t.linear = false;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  return t;
}

size_t Fp16Compressor::encode(const float* x, size_t n, uint8_t* out, uint64_t, bool* nonfinite) const {
  bool bad = float_to_half_check(x, reinterpret_cast<uint16_t*>(out), n);
  if (nonfinite && bad) *nonfinite = true;
  return 2 * n;
}

void Fp16Compressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, "fp16: payload of ", bytes, " bytes for ", n,
             " values (want ", encoded_bytes(n), ")");
  half_to_float(reinterpret_cast<const uint16_t*>(in), out, n);
}

void Fp16Compressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, "fp16: payload of ", bytes, " bytes for ", n,
             " values (want ", encoded_bytes(n), ")");
  half_to_float_add(reinterpret_cast<const uint16_t*>(in), acc, n);
}

void register_fp16(Registry& r) {
  r.add("fp16", [](SpecReader&) -> std::unique_ptr<Compressor> { return std::make_unique<Fp16Compressor>(); });
}

}  // namespace gw
