#include "src/planner/candidates.h"

#include <cmath>

#include "src/common/error.h"

namespace gw {
namespace planner {

std::vector<Candidate> measure_candidates(const float* x, size_t n,
                                          const std::vector<std::shared_ptr<const Compressor>>& codecs,
                                          uint64_t rng_key) {
  std::vector<Candidate> out;
  out.reserve(codecs.size());
  std::vector<uint8_t> payload;
  std::vector<float> back(n);
  for (const auto& c : codecs) {
    GW_REQUIRE(!c->round_codec(), GW_ERR_UNSUPPORTED, "planner: ", c->spec(),
               " runs through rounds; its error is not measured by one encode");
    payload.resize(c->encoded_bytes(n));
    bool nonfinite = false;
    const size_t bytes = c->encode(x, n, payload.data(), rng_key, &nonfinite);
    Candidate k;
    k.bytes = bytes;
    if (nonfinite) {
      k.error = INFINITY;
    } else {
      c->decode(payload.data(), bytes, n, back.data());
      double e = 0;
      for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(back[i]) - x[i];
        e += d * d;
      }
      k.error = e;
    }
    out.push_back(k);
  }
  return out;
}

}  // namespace planner
}  // namespace gw
