#include "src/core/compressor.h"

#include <vector>

#include "src/common/error.h"

namespace gw {

size_t Compressor::payload_extent(const uint8_t* /*in*/, size_t avail, size_t n) const {
  const size_t want = encoded_bytes(n);
  GW_REQUIRE(want <= avail, GW_ERR_CORRUPT, spec(), ": payload for ", n, " values needs ", want, " bytes, ", avail,
             " remain in the message");
  return want;
}

size_t Compressor::encode_feedback(const float* g, float* state, size_t n, Feedback mode, uint8_t* out,
                                   uint64_t rng_key, bool* nonfinite) const {
  if (mode == Feedback::kNone) return encode(g, n, out, rng_key, nonfinite);
  thread_local std::vector<float> x, d;  // grow-only scratch
  if (x.size() < n) {
    x.resize(n);
    d.resize(n);
  }
  const float sign = mode == Feedback::kResidual ? 1.0f : -1.0f;
  for (size_t i = 0; i < n; ++i) x[i] = g[i] + sign * state[i];
  const size_t bytes = encode(x.data(), n, out, rng_key, nonfinite);
  decode(out, bytes, n, d.data());
  if (mode == Feedback::kResidual) {
    for (size_t i = 0; i < n; ++i) state[i] = x[i] - d[i];
  } else {
    for (size_t i = 0; i < n; ++i) state[i] += d[i];
  }
  return bytes;
}

void Compressor::decode_near(const uint8_t*, size_t, size_t, const float*, float*, bool,
                             std::vector<uint32_t>*) const {
  fail(GW_ERR_INTERNAL, spec(), " decodes without a reference (decode / decode_add)");
}

}  // namespace gw
