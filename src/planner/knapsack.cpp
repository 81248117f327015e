#include "src/planner/knapsack.h"

#include <cmath>
#include <limits>

#include "src/common/error.h"

namespace gw {
namespace planner {

Plan solve_knapsack(const std::vector<std::vector<Candidate>>& layers, double budget, int units) {
  GW_REQUIRE(units >= 1 && budget >= 0 && std::isfinite(budget), GW_ERR_INVALID_ARGUMENT,
             "knapsack: budget ", budget, " and units ", units, " (want budget >= 0, units >= 1)");
  const size_t L = layers.size(), U = static_cast<size_t>(units);
  Plan plan;
  plan.choice.assign(L, 0);
  // Each candidate's error in whole steps, rounded up (see knapsack.h); an
  // error beyond the budget can never be chosen.
  const double step = budget > 0 ? budget / static_cast<double>(U) : 0.0;
  auto steps_of = [&](double e) -> size_t {
    if (!(e >= 0) || !std::isfinite(e)) return U + 1;
    if (step == 0) return e == 0 ? 0 : U + 1;
    const double s = std::ceil(e / step);
    return s > static_cast<double>(U) ? U + 1 : static_cast<size_t>(std::max(0.0, s));
  };
  constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  // best[u] = fewest bytes for the layers so far using exactly u steps; pick[l][u] = the candidate.
  std::vector<uint64_t> best(U + 1, kNone), next(U + 1);
  std::vector<std::vector<int>> pick(L, std::vector<int>(U + 1, -1));
  best[0] = 0;
  for (size_t l = 0; l < L; ++l) {
    GW_REQUIRE(!layers[l].empty(), GW_ERR_INVALID_ARGUMENT, "knapsack: layer ", l, " has no candidate");
    std::fill(next.begin(), next.end(), kNone);
    for (size_t c = 0; c < layers[l].size(); ++c) {
      const size_t s = steps_of(layers[l][c].error);
      if (s > U) continue;
      const uint64_t b = layers[l][c].bytes;
      for (size_t u = 0; u + s <= U; ++u) {
        if (best[u] == kNone) continue;
        const uint64_t total = best[u] + b;
        if (total < next[u + s]) {  // strict: the lower candidate index wins a tie
          next[u + s] = total;
          pick[l][u + s] = static_cast<int>(c);
        }
      }
    }
    best.swap(next);
  }
  // The cheapest end state, then back through the picks.
  size_t at = U + 1;
  for (size_t u = 0; u <= U; ++u)
    if (best[u] != kNone && (at > U || best[u] < best[at])) at = u;
  if (at <= U) {
    plan.feasible = true;
    for (size_t l = L; l-- > 0;) {
      const int c = pick[l][at];
      plan.choice[l] = c;
      at -= steps_of(layers[l][c].error);
    }
  } else {  // nothing fits: the most accurate plan
    for (size_t l = 0; l < L; ++l)
      for (size_t c = 1; c < layers[l].size(); ++c)
        if (layers[l][c].error < layers[l][plan.choice[l]].error) plan.choice[l] = static_cast<int>(c);
  }
  for (size_t l = 0; l < L; ++l) {
    plan.bytes += layers[l][plan.choice[l]].bytes;
    plan.error += layers[l][plan.choice[l]].error;
  }
  return plan;
}

}  // namespace planner
}  // namespace gw
