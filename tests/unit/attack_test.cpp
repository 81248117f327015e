// The attack harness (robust/attack.h) against the definitions it cites:
// ALIE's z from Baruch et al.'s formula, each kind's vector on small inputs,
// canonical names and bad specs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "src/common/error.h"
#include "src/config/config.h"
#include "src/robust/attack.h"

namespace gw {
namespace {

TEST(Attack, AlieZFollowsBaruchEtAl) {
  // n = 8, f = 2: s = floor(8 / 2 + 1) - 2 = 3, z = Phi^-1(5 / 8).
  EXPECT_NEAR(Attack::alie_z(8, 2), 0.318639364, 1e-8);
  // n = 25, f = 5 (the published setting): s = 8, z = Phi^-1(17 / 25).
  EXPECT_NEAR(Attack::alie_z(25, 5), 0.467698799, 1e-8);
  EXPECT_EQ(Attack::make("alie:ranks=6|7", 8)->name(), "alie:ranks=6|7,z=0.318639364");
}

TEST(Attack, EachKindComputesItsDefinition) {
  // Four ranks, rank 3 attacks; rows of raw inputs for the omniscient kinds.
  const std::vector<float> all = {1, 10, 3, 20, 5, 30, 100, 100};  // 4 ranks x 2
  std::vector<float> x = {100, 100};
  Attack::make("alie:ranks=3,z=1", 4)->apply(x.data(), 2, all.data(), 0);
  // Honest means (3, 20), population standard deviations (sqrt(8/3), sqrt(200/3)).
  EXPECT_FLOAT_EQ(x[0], static_cast<float>(3 - std::sqrt(8.0 / 3)));
  EXPECT_FLOAT_EQ(x[1], static_cast<float>(20 - std::sqrt(200.0 / 3)));
  x = {100, 100};
  Attack::make("ipm:ranks=3,eps=0.5", 4)->apply(x.data(), 2, all.data(), 0);
  EXPECT_EQ(x, (std::vector<float>{-1.5f, -10}));
  x = {100, 100};
  Attack::make("mimic:ranks=3", 4)->apply(x.data(), 2, all.data(), 0);  // the first honest rank by default
  EXPECT_EQ(x, (std::vector<float>{1, 10}));
  x = {100, 100};
  Attack::make("mimic:ranks=0|3,target=2", 4)->apply(x.data(), 2, all.data(), 0);
  EXPECT_EQ(x, (std::vector<float>{5, 30}));
  x = {1.5f, -2};
  Attack::make("signflip:ranks=1,scale=2", 4)->apply(x.data(), 2, nullptr, 0);
  EXPECT_EQ(x, (std::vector<float>{-3, 4}));
  x = {1.5f, -2};
  Attack::make("labelflip:ranks=1", 4)->apply(x.data(), 2, nullptr, 0);  // a data attack: the values stay
  EXPECT_EQ(x, (std::vector<float>{1.5f, -2}));
}

TEST(Attack, GaussianNoiseHasItsSigmaAndFollowsTheKey) {
  auto a = Attack::make("gaussian:sigma=3", 4);
  std::vector<float> x(200000), y(200000);
  a->apply(x.data(), x.size(), nullptr, 11);
  a->apply(y.data(), y.size(), nullptr, 11);
  EXPECT_EQ(x, y);
  double s = 0, s2 = 0;
  for (float v : x) {
    ASSERT_TRUE(std::isfinite(v));
    s += v;
    s2 += static_cast<double>(v) * v;
  }
  const double mean = s / x.size(), var = s2 / x.size() - mean * mean;
  EXPECT_NEAR(mean, 0, 5 * 3 / std::sqrt(200000.0));
  EXPECT_NEAR(var, 9, 9 * 0.02);
  a->apply(y.data(), y.size(), nullptr, 12);
  EXPECT_NE(x, y);
}

TEST(Attack, NamesDefaultsAndBadSpecs) {
  EXPECT_EQ(Attack::make("none", 4), nullptr);
  auto a = Attack::make("signflip", 4);  // the last rank by default
  EXPECT_EQ(a->name(), "signflip:ranks=3,scale=1");
  EXPECT_TRUE(a->attacks(3));
  EXPECT_FALSE(a->attacks(0));
  EXPECT_FALSE(a->omniscient());
  EXPECT_TRUE(Attack::make("ipm", 4)->omniscient());
  EXPECT_EQ(Attack::make("ipm:ranks=2|0|2", 4)->name(), "ipm:ranks=0|2,eps=0.1");
  EXPECT_EQ(Attack::make("gaussian:ranks=1", 4)->name(), "gaussian:ranks=1,sigma=1");
  EXPECT_EQ(Attack::make("mimic:ranks=0", 4)->name(), "mimic:ranks=0,target=1");
  // The wire kinds leave the input alone and name the transport's rewrite.
  const std::pair<const char*, WireAttack> wire[] = {{"malformed", WireAttack::kMalformed},
                                                     {"truncated", WireAttack::kTruncated},
                                                     {"oversized", WireAttack::kOversized},
                                                     {"garbage", WireAttack::kGarbage},
                                                     {"equivocate", WireAttack::kEquivocate}};
  for (const auto& k : wire) {
    auto w = Attack::make(k.first, 4);
    EXPECT_TRUE(w->on_wire()) << k.first;
    EXPECT_EQ(w->wire(), k.second) << k.first;
    EXPECT_EQ(w->name(), std::string(k.first) + ":ranks=3");
    std::vector<float> x = {1, -2, 3}, y = x;
    w->apply(x.data(), x.size(), nullptr, 5);
    EXPECT_EQ(x, y) << k.first;
  }
  EXPECT_FALSE(a->on_wire());
  for (const char* bad : {"flip", "signflip:ranks=4", "signflip:ranks=x", "signflip:ranks=0|1|2|3",
                          "mimic:ranks=1,target=1", "ipm:delta=1", "gaussian:sigma=-1", "equivocate:scale=2"}) {
    try {
      Attack::make(bad, 4);
      ADD_FAILURE() << bad << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT) << bad;
    }
  }
  EXPECT_EQ(parse_config("attack=alie:ranks=6|7").attack, "alie:ranks=6|7");
  EXPECT_EQ(parse_config("").attack, "none");
  EXPECT_THROW(parse_config("attack=nope"), Error);
}

}  // namespace
}  // namespace gw
