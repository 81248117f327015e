// The peer rules (robust/peer_rule.h) against their definitions on small
// hand-checked inputs, and their behaviour on NaN/Inf and extreme values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "src/common/error.h"
#include "src/config/config.h"
#include "src/robust/peer_rule.h"

namespace gw {
namespace {

using Rows = std::vector<std::vector<float>>;
const float kNan = std::numeric_limits<float>::quiet_NaN();

// One call of `rule` over rows (ranks 0..m-1, or `ranks`), with the given
// state; the removed ranks go to *removed when asked for.
std::vector<float> combine(const PeerRule& rule, const Rows& rows, RuleState* state = nullptr,
                           std::vector<int>* removed = nullptr, std::vector<int> ranks = {}, int world = 0,
                           uint64_t key = 42) {
  std::vector<const float*> peers;
  for (const auto& r : rows) peers.push_back(r.data());
  if (ranks.empty())
    for (size_t r = 0; r < rows.size(); ++r) ranks.push_back(static_cast<int>(r));
  PeerRows p;
  p.rows = peers.data();
  p.ranks = ranks.data();
  p.m = static_cast<int>(rows.size());
  p.world = world ? world : p.m;
  p.key = key;
  RuleState local;
  std::vector<int> dropped;
  std::vector<float> out(rows[0].size(), -1.0f);
  rule.combine(p, out.size(), out.data(), state ? *state : local, removed ? *removed : dropped);
  return out;
}

std::vector<float> combine(const char* spec, const Rows& rows) { return combine(*make_peer_rule(spec), rows); }

void expect_invalid(const std::function<void()>& f, const char* needle) {
  try {
    f();
    ADD_FAILURE() << "no error (wanted one naming '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PeerRule, MedianMeanAndTrimmedMeanOfThreeRows) {
  const Rows rows = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  EXPECT_EQ(combine("median", rows), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(combine("mean", rows), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(combine("trimmed:b=1", rows), (std::vector<float>{4, 5, 6}));
  // Rows in another order: the median does not care; an outlier moves the mean, not the median.
  const Rows shuffled = {{7, 2, 6}, {1, 8, 3}, {4, 5, 9}};
  EXPECT_EQ(combine("median", shuffled), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(combine("trimmed:b=1", shuffled), (std::vector<float>{4, 5, 6}));
  const Rows attacked = {{1, 2, 3}, {4, 5, 6}, {1e30f, -1e30f, 1e30f}};
  EXPECT_EQ(combine("median", attacked), (std::vector<float>{4, 2, 6}));
}

TEST(PeerRule, TrimmedMeanDropsTheBLargestAndSmallestPerCoordinate) {
  // Five ranks, b = 1: per coordinate the mean of the middle three.
  const Rows rows = {{1, 50}, {2, -7}, {3, 10}, {4, 20}, {100, 30}};
  EXPECT_EQ(combine("trimmed:b=1", rows), (std::vector<float>{3, 20}));
  // b = 2 leaves the median.
  EXPECT_EQ(combine("trimmed:b=2", rows), (std::vector<float>{3, 20}));
  expect_invalid([&] { combine("trimmed:b=3", rows); }, "needs more than");
  // NaN sorts above everything: one NaN rank is trimmed like a large value.
  EXPECT_EQ(combine("trimmed:b=1", {{kNan}, {1}, {2}, {3}, {-9}}), (std::vector<float>{2}));
}

TEST(PeerRule, MedianOfAnEvenCountIsTheMidpointOfTheMiddleTwo) {
  const Rows rows = {{1, -FLT_MAX}, {10, FLT_MAX}, {2, FLT_MAX}, {3, -FLT_MAX}};
  std::vector<float> out = combine("median", rows);
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_EQ(out[1], 0.0f);  // no overflow: (-FLT_MAX + FLT_MAX) / 2 computed as halves
  EXPECT_EQ(combine("median", {{5, 6}}), (std::vector<float>{5, 6}));  // one rank
}

TEST(PeerRule, NanSortsAboveEverythingAndNeverBreaksTheSelection) {
  const float inf = std::numeric_limits<float>::infinity();
  // One NaN among three: the median is the larger of the two numbers.
  std::vector<float> out = combine("median", {{kNan, 1}, {2, kNan}, {1, inf}});
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[1], inf);
  // Mostly NaN, many ranks: a NaN result, and no out-of-bounds read (ASan runs this).
  Rows rows(9, std::vector<float>(64, kNan));
  rows[3].assign(64, 1.0f);
  out = combine("median", rows);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

TEST(PeerRule, KrumPicksTheRowWithTheClosestNeighbours) {
  // Four close rows and one far: with f = 1 each row is scored by its
  // 5 - 1 - 2 = 2 nearest squared distances. The four close rows all score
  // 1 + 1 = 2 (ties go to the lowest rank), the far one ~2e4.
  const Rows rows = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {100, 100}};
  EXPECT_EQ(combine("krum:f=1", rows), (std::vector<float>{0, 0}));
  // Multi-Krum averages the m lowest scores: the four close rows.
  EXPECT_EQ(combine("krum:f=1,m=4", rows), (std::vector<float>{0.5f, 0.5f}));
  // A row holding NaN is infinitely far from everything: never picked.
  const Rows with_nan = {{kNan, 0}, {3, 3}, {3, 4}, {4, 3}, {4, 4}};
  EXPECT_EQ(combine("krum:f=1,m=4", with_nan), (std::vector<float>{3.5f, 3.5f}));
  expect_invalid([&] { combine("krum:f=3", rows); }, "f + 3");
  expect_invalid([&] { combine("krum:f=1,m=6", rows); }, "averages 6");
}

TEST(PeerRule, GeometricMedianSatisfiesItsOptimalityCondition) {
  // Four rows around the origin and one far away: the mean is pulled to
  // (200, 200); the geometric median z has sum_k (z - x_k) / |z - x_k| = 0.
  const Rows rows = {{1, 0}, {-1, 0.5f}, {0.25f, 1}, {0, -1}, {1000, 1000}};
  std::vector<float> z = combine("geomed:nu=1e-9,iters=100", rows);
  double gx = 0, gy = 0;
  for (const auto& x : rows) {
    const double dx = z[0] - x[0], dy = z[1] - x[1], d = std::sqrt(dx * dx + dy * dy);
    gx += dx / d;
    gy += dy / d;
  }
  EXPECT_LT(std::sqrt(gx * gx + gy * gy), 1e-2) << z[0] << ", " << z[1];
  EXPECT_LT(std::fabs(z[0]) + std::fabs(z[1]), 1.5f);  // near the four, far from the mean
  // One iteration from the mean moves toward the cluster, and a NaN row is left out.
  std::vector<float> one = combine("geomed:iters=1", rows);
  EXPECT_LT(one[0], 200.0f);
  Rows with_nan = rows;
  with_nan.push_back({kNan, 1});
  EXPECT_EQ(combine("geomed:nu=1e-9,iters=100", with_nan), z);
}

TEST(PeerRule, CenteredClippingClipsAroundThePreviousAggregate) {
  auto rule = make_peer_rule("cc:tau=1,iters=1");
  RuleState st;
  // From v = 0: (0.5, 0) and (0, 0.5) are inside tau = 1; (3, 4) is 5 away and scaled by 1/5.
  std::vector<float> out = combine(*rule, {{0.5f, 0}, {3, 4}, {0, 0.5f}}, &st);
  EXPECT_FLOAT_EQ(out[0], (0.5f + 0.6f) / 3);
  EXPECT_FLOAT_EQ(out[1], (0.8f + 0.5f) / 3);
  ASSERT_EQ(st.center.size(), 2u);  // the aggregate is kept: the next call clips around it
  EXPECT_EQ(st.center, out);
  // Every row at out + (10, 0): clipped to tau, so the aggregate moves by exactly 1.
  std::vector<float> far = {out[0] + 10, out[1]};
  std::vector<float> next = combine(*rule, {far, far, far}, &st);
  EXPECT_NEAR(next[0], out[0] + 1, 1e-5);
  EXPECT_NEAR(next[1], out[1], 1e-6);
  // A NaN row counts as clipped to nothing; the center stays finite.
  std::vector<float> with_nan = combine(*rule, {{kNan, 0}, next, next}, &st);
  EXPECT_FLOAT_EQ(with_nan[0], next[0]);
  EXPECT_FLOAT_EQ(with_nan[1], next[1]);
  // A changed count starts again from zero.
  std::vector<float> fresh = combine(*rule, {{0.5f, 0, 0}}, &st);
  EXPECT_EQ(fresh, (std::vector<float>{0.5f, 0, 0}));
}

// Deterministic noise in [-1, 1).
float noise(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<float>(static_cast<double>(s >> 11) / 9007199254740992.0 * 2 - 1);
}

TEST(PeerRule, SafeguardRemovesADriftingRankAndKeepsHonestOnes) {
  auto rule = make_peer_rule("safeguard:long=32,short=4,ratio=3");
  const int world = 6, count = 64, bad = 4;
  for (bool attack : {false, true}) {
    RuleState st;
    std::vector<int> excluded;
    uint64_t seed = 7;
    int removed_at = -1;
    for (int call = 0; call < 200; ++call) {
      Rows rows;
      std::vector<int> ranks;
      for (int r = 0; r < world; ++r) {
        std::vector<float> v(count);
        for (float& x : v) x = noise(seed) + (attack && r == bad ? 2.0f : 0.0f);  // a steady bias
        if (std::find(excluded.begin(), excluded.end(), r) != excluded.end()) continue;
        rows.push_back(v);
        ranks.push_back(r);
      }
      std::vector<int> removed;
      std::vector<float> out = combine(*rule, rows, &st, &removed, ranks, world);
      for (int r : removed) {
        excluded.push_back(r);
        if (removed_at < 0) removed_at = call;
      }
      // The result is the mean of the good rows: the attacker's bias never in it once removed.
      if (!excluded.empty()) {
        float mean0 = 0;
        for (const auto& row : rows) mean0 += row[0];
        if (removed.empty()) EXPECT_NEAR(out[0], mean0 / rows.size(), 1e-5);
      }
    }
    if (attack) {
      EXPECT_EQ(excluded, (std::vector<int>{bad}));
      EXPECT_GE(removed_at, 0);
      EXPECT_LT(removed_at, 8);  // the short window catches a bias of 2 within a few calls
    } else {
      EXPECT_TRUE(excluded.empty()) << "an honest rank was removed: " << excluded[0];
    }
  }
}

// Minibatch gradients are not white noise: their spread lies in a few
// directions and its size changes from step to step (heavy tails). Honest rows
// like that, 8 ranks over 300 calls: the default ratio (6) removes nobody, and
// ratio=3 (the old default, which removed up to 3 honest ranks of 8 in the
// Fashion-MNIST sweeps) removes some; a rank that sends the negated row (signflip)
// is still removed within one long window. Returns the removals and the first call.
std::pair<std::vector<int>, int> safeguard_on_minibatch_like_rows(const char* spec, int flipper) {
  auto rule = make_peer_rule(spec);
  const int world = 8, count = 256, directions = 3;
  uint64_t seed = 11;
  std::vector<std::vector<float>> dir(directions, std::vector<float>(count));
  for (auto& d : dir)
    for (float& x : d) x = noise(seed);
  RuleState st;
  std::vector<int> excluded;
  int first = -1;
  for (int call = 0; call < 300; ++call) {
    Rows rows;
    std::vector<int> ranks;
    for (int r = 0; r < world; ++r) {
      std::vector<float> v(count, 0.5f);  // the common gradient
      const float scale = std::exp(0.8f * noise(seed));
      for (const auto& d : dir) {
        const float a = scale * noise(seed);
        for (int i = 0; i < count; ++i) v[i] += a * d[i];
      }
      for (int i = 0; i < count; ++i) v[i] += 0.3f * noise(seed);
      if (r == flipper)
        for (float& x : v) x = -x;
      if (std::find(excluded.begin(), excluded.end(), r) != excluded.end()) continue;
      rows.push_back(v);
      ranks.push_back(r);
    }
    std::vector<int> removed;
    combine(*rule, rows, &st, &removed, ranks, world);
    for (int r : removed) {
      excluded.push_back(r);
      if (first < 0) first = call;
    }
  }
  return {excluded, first};
}

TEST(PeerRule, SafeguardKeepsHonestRanksWhoseNoiseIsLowRankAndHeavyTailed) {
  EXPECT_EQ(safeguard_on_minibatch_like_rows("safeguard", -1).first, std::vector<int>{});
  EXPECT_FALSE(safeguard_on_minibatch_like_rows("safeguard:ratio=3", -1).first.empty())
      << "the control: this noise should fool the old threshold";
  auto flipped = safeguard_on_minibatch_like_rows("safeguard", 5);
  EXPECT_EQ(flipped.first, std::vector<int>{5});
  EXPECT_GE(flipped.second, 0);
  EXPECT_LT(flipped.second, 32);  // within one long window
}

TEST(PeerRule, SafeguardNeverRemovesAMajority) {
  // Three ranks of six still count (the others were removed before) and the
  // third is an outlier: removing it would leave 2 of 6, not a majority, so
  // nobody is removed; with all six counting, the same outlier goes.
  auto rule = make_peer_rule("safeguard");
  RuleState st;
  std::vector<int> removed;
  combine(*rule, {{0}, {0.1f}, {100}}, &st, &removed, {0, 1, 5}, 6);
  EXPECT_TRUE(removed.empty());
  RuleState all;
  combine(*rule, {{0}, {0.1f}, {0.05f}, {-0.1f}, {0.02f}, {100}}, &all, &removed, {}, 6);
  EXPECT_EQ(removed, (std::vector<int>{5}));
}

TEST(PeerRule, BucketingShufflesWithTheSharedKeyAndAveragesBuckets) {
  // Five equal rows and one outlier: buckets of 2 give means v, v and
  // (v + outlier) / 2 in some order; their median is v whatever the shuffle.
  const Rows rows = {{3}, {3}, {3}, {1000}, {3}, {3}};
  for (uint64_t key = 0; key < 16; ++key)
    EXPECT_EQ(combine(*make_peer_rule("median:bucket=2"), rows, nullptr, nullptr, {}, 0, key),
              (std::vector<float>{3}));
  // The mean of bucket means (s divides m) is the mean of all rows; the
  // shuffle is a function of the key alone.
  const Rows spread = {{1}, {2}, {4}, {8}, {16}, {32}};
  auto bucketed = make_peer_rule("mean:bucket=3");
  std::vector<float> a = combine(*bucketed, spread, nullptr, nullptr, {}, 0, 5);
  EXPECT_NEAR(a[0], 63.0f / 6, 1e-5);
  EXPECT_EQ(a, combine(*bucketed, spread, nullptr, nullptr, {}, 0, 5));
  // With a robust base the key matters: some keys pair the outlier differently.
  const Rows two_bad = {{0}, {0}, {0}, {0}, {60}, {60}};
  std::vector<float> seen;
  for (uint64_t key = 0; key < 32; ++key)
    seen.push_back(combine(*make_peer_rule("median:bucket=2"), two_bad, nullptr, nullptr, {}, 0, key)[0]);
  EXPECT_NE(*std::min_element(seen.begin(), seen.end()), *std::max_element(seen.begin(), seen.end()));
}

TEST(PeerRule, CanonicalNamesAndBadSpecs) {
  EXPECT_EQ(make_peer_rule("none"), nullptr);
  EXPECT_EQ(make_peer_rule("median")->name(), "median");
  EXPECT_EQ(make_peer_rule("mean")->name(), "mean");
  EXPECT_EQ(make_peer_rule("trimmed")->name(), "trimmed:b=1");
  EXPECT_EQ(make_peer_rule("krum")->name(), "krum:f=1,m=1");
  EXPECT_EQ(make_peer_rule("krum:m=3,f=2")->name(), "krum:f=2,m=3");
  EXPECT_EQ(make_peer_rule("geomed:nu=1e-6")->name(), "geomed:nu=1e-06,iters=4");
  EXPECT_EQ(make_peer_rule("cc:tau=1")->name(), "cc:tau=1,iters=1");
  EXPECT_EQ(make_peer_rule("safeguard")->name(), "safeguard:long=32,short=4,ratio=6");
  EXPECT_EQ(make_peer_rule("median:bucket=2")->name(), "median:bucket=2");
  EXPECT_EQ(make_peer_rule("trimmed:bucket=3,b=2")->name(), "trimmed:b=2,bucket=3");
  EXPECT_EQ(make_peer_rule("cc:bucket=1")->name(), "cc:tau=10,iters=1");  // bucket=1 is no bucketing
  EXPECT_TRUE(make_peer_rule("median")->coordinatewise());
  EXPECT_FALSE(make_peer_rule("krum")->coordinatewise());
  expect_invalid([] { make_peer_rule("Median"); }, "unknown rule");
  expect_invalid([] { make_peer_rule("krum:x=1"); }, "x");
  expect_invalid([] { make_peer_rule("trimmed:b=0"); }, "b");
  expect_invalid([] { make_peer_rule("cc:tau=-1"); }, "tau");
  expect_invalid([] { make_peer_rule("safeguard:bucket=2"); }, "bucket");
  EXPECT_EQ(parse_config("robust=median").robust, "median");
  EXPECT_EQ(parse_config("robust=krum:f=2").robust, "krum:f=2");
  EXPECT_EQ(parse_config("").robust, "none");
  expect_invalid([] { parse_config("robust=Median"); }, "robust");
  expect_invalid([] { parse_config("robust=krum:f=x"); }, "robust");
}

}  // namespace
}  // namespace gw
