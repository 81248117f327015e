#include "nuq/nuq.h"

#include <memory>

#include "common/error.h"
#include "qsgd/qsgd_kernels.h"
#include "spec/registry.h"

namespace gw {

namespace {
qsgd::Layout layout_of(const NuqParams& p) { return qsgd::make_layout(qsgd::NUQ, p.bits, p.bucket); }
}  // namespace

NuqCompressor::NuqCompressor(NuqParams p) : p_(p) {
  GW_REQUIRE(p.bits >= 2 && p.bits <= 8, GW_ERR_INVALID_ARGUMENT, "nuq: bits=", p.bits,
             " is outside [2, 8] (bits include the sign)");
  GW_REQUIRE(p.bucket >= 64 && p.bucket <= 8192, GW_ERR_INVALID_ARGUMENT, "nuq: bucket=", p.bucket,
             " is outside [64, 8192]");
  spec_ = "nuq:bits=" + std::to_string(p.bits) + ",bucket=" + std::to_string(p.bucket);
}

CompressorTraits NuqCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.linear = false;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  return t;
}

size_t NuqCompressor::encoded_bytes(size_t n) const { return layout_of(p_).total_bytes(n); }

size_t NuqCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const {
  const qsgd::Layout L = layout_of(p_);
  if (qsgd::encode(L, x, n, out, rng_key) && nonfinite) *nonfinite = true;
  return L.total_bytes(n);
}

void NuqCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  qsgd::decode(layout_of(p_), spec_.c_str(), in, bytes, n, out, false);
}

void NuqCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  qsgd::decode(layout_of(p_), spec_.c_str(), in, bytes, n, acc, true);
}

void register_nuq(Registry& r) {
  r.add("nuq", [](SpecReader& s) -> std::unique_ptr<Compressor> {
    NuqParams p;
    p.bits = static_cast<int>(s.get_int("bits", 4, 2, 8));
    p.bucket = static_cast<int>(s.get_int("bucket", 512, 64, 8192));
    return std::make_unique<NuqCompressor>(p);
  });
}

}  // namespace gw
