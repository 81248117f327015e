// The 2-byte cast codecs ("fp16", "bf16"): each float32 becomes one 16-bit value,
// little-endian, through the array conversions of common/half.h. Fixed size
// (2 bytes a value), deterministic rounding (not unbiased), not linear, no error
// feedback. NaN stays NaN (quieted), +-Inf stays +-Inf; a non-finite input sets
// *nonfinite. One instantiation per format: its wire id, its spec (family name)
// and its three conversions; each format keeps its own folder (fp16/, bf16/).
// Header-only: compressors/*/*.cpp globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "src/common/error.h"
#include "src/core/compressor.h"
#include "src/spec/registry.h"

namespace gw {

using CastEncodeFn = bool (*)(const float* in, uint16_t* out, size_t n);  // returns "saw NaN/Inf"
using CastDecodeFn = void (*)(const uint16_t* in, float* out, size_t n);  // out = / out += values

// Spec must point to an inline constexpr char array (one object in every TU).
template <uint16_t Id, const char* Spec, CastEncodeFn Encode, CastDecodeFn Decode, CastDecodeFn DecodeAdd>
class CastCompressor final : public Compressor {
 public:
  static constexpr uint16_t kId = Id;
  static constexpr const char* kSpec = Spec;

  uint16_t id() const override { return Id; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override {
    return CompressorTraits{/*unbiased=*/false, /*linear=*/false, /*needs_error_feedback=*/false,
                            /*fixed_size=*/true};
  }
  size_t encoded_bytes(size_t n) const override { return 2 * n; }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t, bool* nonfinite) const override {
    bool bad = Encode(x, reinterpret_cast<uint16_t*>(out), n);
    if (nonfinite && bad) *nonfinite = true;
    return 2 * n;
  }
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override {
    check_size(bytes, n);
    Decode(reinterpret_cast<const uint16_t*>(in), out, n);
  }
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override {
    check_size(bytes, n);
    DecodeAdd(reinterpret_cast<const uint16_t*>(in), acc, n);
  }

 private:
  void check_size(size_t bytes, size_t n) const {
    GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, Spec, ": payload of ", bytes, " bytes for ", n,
               " values (want ", encoded_bytes(n), ")");
  }
  std::string spec_ = Spec;
};

// Registers codec C (a CastCompressor) under its spec; the spec takes no keys.
template <class C>
void register_cast_codec(Registry& r) {
  r.add(C::kSpec, [](SpecReader&) -> std::unique_ptr<Compressor> { return std::make_unique<C>(); });
}

}  // namespace gw
