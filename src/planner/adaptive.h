// A spec family whose layers L-GreCo plans (`lgreco:...`, compressors/lgreco/):
// the grid of candidate schemes, the uniform setting the budget is measured
// against, and when to plan. The communicator (src/comm/communicator_adaptive.cpp)
// does the planning: at a plan step it measures every candidate on each such
// layer of the call (planner/candidates.h), averages the errors over ranks in
// one small allreduce, solves the knapsack (planner/knapsack.h) and gives each
// layer its candidate, the same on every rank; between plan steps a layer keeps
// its candidate, and before the first one it uses the uniform setting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/scheme/scheme.h"

namespace gw {

class AdaptiveFamily {
 public:
  virtual ~AdaptiveFamily() = default;
  virtual const std::vector<std::shared_ptr<const Scheme>>& candidates() const = 0;
  // The index of the uniform setting among candidates(): the budget is alpha x
  // its total error, and layers use it until their first plan.
  virtual size_t uniform() const = 0;
  virtual double alpha() const = 0;
  // True when a layer's call number `step` is a plan step (warmup, then every period).
  virtual bool plans_at(uint64_t step) const = 0;
};

}  // namespace gw
