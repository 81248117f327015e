// L-GreCo's plan (Alimohammadi, Markov, Frantar, Alistarh; ALGORITHMS.md,
// "Per-layer adaptive compression"): one candidate per layer, the fewest
// bytes in total, at a total compression error no larger than a budget. A
// multiple-choice knapsack, solved by dynamic programming over the error
// budget cut into `units` equal steps (the authors use 10,000).
//
// Each candidate's error is rounded UP to whole steps, so a plan the DP finds
// within budget is within budget in the real errors too; the price is that a
// plan whose real error fits only just may be missed (at most one step per
// layer of slack). Deterministic: equal inputs give the same plan on every
// rank (ties go to the lower candidate index, layer by layer), so ranks that
// average their errors first (one small allreduce) hold the identical plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gw {
namespace planner {

struct Candidate {
  double error = 0;   // compression error on the layer (>= 0; squared l2 norm of C(x) - x)
  uint64_t bytes = 0;  // its exact encoded size
};

struct Plan {
  std::vector<int> choice;  // per layer, the index of its candidate
  uint64_t bytes = 0;
  double error = 0;  // the real (not rounded) total error of the choice
  bool feasible = false;  // false: no choice fits; choice is then each layer's least-error candidate
};

// layers[l] = the candidates of layer l (none empty). budget >= 0; units >= 1.
// Cost O(layers x candidates x units) time, O(layers x units) memory.
Plan solve_knapsack(const std::vector<std::vector<Candidate>>& layers, double budget, int units = 10000);

}  // namespace planner
}  // namespace gw
