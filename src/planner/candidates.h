// The measurement half of L-GreCo (knapsack.h is the other): each candidate
// codec's compression error on a layer's vector and its exact size, the
// inputs of the plan. Codecs come from specs (the family's grid), so nothing
// here names a codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/core/compressor.h"
#include "src/planner/knapsack.h"

namespace gw {
namespace planner {

// For each codec: error = ||D(C(x)) - x||^2 (in double; stochastic codecs
// draw from rng_key, the same on every rank for a reproducible plan) and bytes
// = the payload C(x) takes. Codecs that run through rounds (low rank) have no
// single payload to measure here: GW_ERR_UNSUPPORTED naming the spec.
// A NaN/Inf in x makes every error infinite (no candidate is chosen for it).
std::vector<Candidate> measure_candidates(const float* x, size_t n,
                                          const std::vector<std::shared_ptr<const Compressor>>& codecs,
                                          uint64_t rng_key);

}  // namespace planner
}  // namespace gw
