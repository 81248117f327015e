// L-GreCo's knapsack (src/planner/knapsack.h): the DP equals brute force over
// the same rounded errors, its plan is within the budget in the real errors
// and at most one step per layer from the real optimum; infeasible budgets
// fall back to the most accurate plan; on layers that differ in how well they
// compress, the plan at the uniform setting's error sends fewer bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "src/common/error.h"
#include "src/planner/knapsack.h"

namespace gw {
namespace planner {
namespace {

using Layers = std::vector<std::vector<Candidate>>;

// The fewest bytes of any choice with total error <= budget (errors mapped by f).
template <typename F>
uint64_t brute_force(const Layers& layers, double budget, F&& f, bool* found) {
  std::vector<size_t> c(layers.size(), 0);
  uint64_t best = UINT64_MAX;
  *found = false;
  for (;;) {
    double e = 0;
    uint64_t b = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
      e += f(layers[l][c[l]].error);
      b += layers[l][c[l]].bytes;
    }
    if (e <= budget && b < best) {
      best = b;
      *found = true;
    }
    size_t l = 0;
    while (l < layers.size() && ++c[l] == layers[l].size()) c[l++] = 0;
    if (l == layers.size()) return best;
  }
}

Layers random_layers(std::mt19937& g) {
  std::uniform_int_distribution<int> nl(1, 5), nc(1, 4), bytes(1, 1000);
  std::uniform_real_distribution<double> err(0.0, 10.0);
  Layers layers(static_cast<size_t>(nl(g)));
  for (auto& l : layers) {
    l.resize(static_cast<size_t>(nc(g)));
    for (auto& c : l) {
      c.error = err(g);
      c.bytes = static_cast<uint64_t>(bytes(g));
    }
  }
  return layers;
}

TEST(Knapsack, EqualsBruteForceOverTheRoundedErrors) {
  std::mt19937 g(5);
  int feasible = 0;
  for (int t = 0; t < 500; ++t) {
    const Layers layers = random_layers(g);
    const double budget = std::uniform_real_distribution<double>(0.0, 25.0)(g);
    const int units = 1 + t % 50;
    const double step = budget / units;
    const Plan p = solve_knapsack(layers, budget, units);
    bool found_rounded, found_real;
    auto rounded = [&](double e) { return std::ceil(e / step); };
    const uint64_t want = brute_force(layers, units, rounded, &found_rounded);
    ASSERT_EQ(p.feasible, found_rounded) << t;
    const uint64_t real = brute_force(layers, budget, [](double e) { return e; }, &found_real);
    if (!p.feasible) {
      for (size_t l = 0; l < layers.size(); ++l)
        for (const Candidate& c : layers[l]) ASSERT_LE(layers[l][p.choice[l]].error, c.error);
      continue;
    }
    ++feasible;
    ASSERT_EQ(p.bytes, want) << t;
    ASSERT_LE(p.error, budget) << t;            // within budget in the real errors
    ASSERT_TRUE(found_real);
    ASSERT_GE(p.bytes, real) << t;              // rounding up can only cost bytes...
    bool found_slack;                            // ...at most one step per layer's worth
    const uint64_t slack = brute_force(layers, budget - step * layers.size(), [](double e) { return e; }, &found_slack);
    if (found_slack) ASSERT_LE(p.bytes, slack) << t;
    uint64_t b = 0;
    double e = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
      b += layers[l][p.choice[l]].bytes;
      e += layers[l][p.choice[l]].error;
    }
    ASSERT_EQ(b, p.bytes);
    ASSERT_DOUBLE_EQ(e, p.error);
  }
  EXPECT_GT(feasible, 250);  // both outcomes are exercised
  EXPECT_LT(feasible, 500);
}

TEST(Knapsack, HeterogeneousLayersSendFewerBytesThanUniformAtNoMoreError) {
  // Candidates 0..3 = 2, 3, 4, 8 bits; layer l's error at b bits scales with
  // its spread s_l (one layer easy to compress, one hard), bytes with its size.
  const double bits[] = {2, 3, 4, 8};
  const double spread[] = {0.01, 1.0, 10.0, 0.1};  // the third layer dominates the uniform error
  const uint64_t size[] = {1000000, 200000, 50000, 400000};
  Layers layers(4);
  for (size_t l = 0; l < 4; ++l)
    for (double b : bits)
      layers[l].push_back({size[l] * spread[l] * spread[l] / std::pow(4.0, b), static_cast<uint64_t>(size[l] * b / 8)});
  // Uniform default: 4 bits everywhere; its total error is the budget (alpha = 1).
  double budget = 0;
  uint64_t uniform = 0;
  for (const auto& l : layers) {
    budget += l[2].error;
    uniform += l[2].bytes;
  }
  const Plan p = solve_knapsack(layers, budget);
  ASSERT_TRUE(p.feasible);
  EXPECT_LE(p.error, budget);
  EXPECT_LT(p.bytes * 1.5, uniform) << "plan " << p.choice[0] << p.choice[1] << p.choice[2] << p.choice[3];
}

TEST(Knapsack, DeterministicAndRefusesBadArguments) {
  std::mt19937 g(9);
  const Layers layers = random_layers(g);
  EXPECT_EQ(solve_knapsack(layers, 7.0).choice, solve_knapsack(layers, 7.0).choice);
  // Ties go to the lower index.
  const Plan tie = solve_knapsack({{{1.0, 10}, {1.0, 10}}}, 2.0);
  EXPECT_EQ(tie.choice, std::vector<int>({0}));
  // A zero budget takes only exact candidates.
  const Plan zero = solve_knapsack({{{0.5, 1}, {0.0, 9}}}, 0.0);
  EXPECT_TRUE(zero.feasible);
  EXPECT_EQ(zero.choice, std::vector<int>({1}));
  for (double bad : {-1.0, double(NAN), double(INFINITY)}) {
    try {
      solve_knapsack(layers, bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    }
  }
  EXPECT_THROW(solve_knapsack({{}}, 1.0), Error);
  EXPECT_THROW(solve_knapsack(layers, 1.0, 0), Error);
}

}  // namespace
}  // namespace planner
}  // namespace gw
