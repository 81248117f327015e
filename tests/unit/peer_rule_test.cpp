// The peer rules (robust/peer_rule.h) against their definitions on small
// hand-checked inputs, and their behaviour on NaN/Inf and extreme values.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "src/common/error.h"
#include "src/config/config.h"
#include "src/robust/peer_rule.h"

namespace gw {
namespace {

std::vector<float> combine(const PeerRule& rule, const std::vector<std::vector<float>>& rows) {
  std::vector<const float*> peers;
  for (const auto& r : rows) peers.push_back(r.data());
  std::vector<float> out(rows[0].size(), -1.0f);
  rule.combine(peers.data(), static_cast<int>(rows.size()), out.size(), out.data());
  return out;
}

TEST(PeerRule, MedianAndMeanOfThreeRows) {
  const std::vector<std::vector<float>> rows = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  EXPECT_EQ(combine(*make_peer_rule("median"), rows), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(combine(*make_peer_rule("mean"), rows), (std::vector<float>{4, 5, 6}));
  // Rows in another order: the median does not care; an outlier moves the mean, not the median.
  const std::vector<std::vector<float>> shuffled = {{7, 2, 6}, {1, 8, 3}, {4, 5, 9}};
  EXPECT_EQ(combine(*make_peer_rule("median"), shuffled), (std::vector<float>{4, 5, 6}));
  const std::vector<std::vector<float>> attacked = {{1, 2, 3}, {4, 5, 6}, {1e30f, -1e30f, 1e30f}};
  EXPECT_EQ(combine(*make_peer_rule("median"), attacked), (std::vector<float>{4, 2, 6}));
}

TEST(PeerRule, MedianOfAnEvenCountIsTheMidpointOfTheMiddleTwo) {
  const std::vector<std::vector<float>> rows = {{1, -FLT_MAX}, {10, FLT_MAX}, {2, FLT_MAX}, {3, -FLT_MAX}};
  std::vector<float> out = combine(*make_peer_rule("median"), rows);
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_EQ(out[1], 0.0f);  // no overflow: (-FLT_MAX + FLT_MAX) / 2 computed as halves
  EXPECT_EQ(combine(*make_peer_rule("median"), {{5, 6}}), (std::vector<float>{5, 6}));  // one rank
}

TEST(PeerRule, NanSortsAboveEverythingAndNeverBreaksTheSelection) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // One NaN among three: the median is the larger of the two numbers.
  std::vector<float> out = combine(*make_peer_rule("median"), {{nan, 1}, {2, nan}, {1, inf}});
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[1], inf);
  // Mostly NaN, many ranks: a NaN result, and no out-of-bounds read (ASan runs this).
  std::vector<std::vector<float>> rows(9, std::vector<float>(64, nan));
  rows[3].assign(64, 1.0f);
  out = combine(*make_peer_rule("median"), rows);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

TEST(PeerRule, NamesAndBadSpecs) {
  EXPECT_EQ(make_peer_rule("none"), nullptr);
  EXPECT_EQ(make_peer_rule("median")->name(), "median");
  EXPECT_EQ(make_peer_rule("mean")->name(), "mean");
  try {
    make_peer_rule("krum");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("krum"), std::string::npos);
  }
  EXPECT_EQ(parse_config("robust=median").robust, "median");
  EXPECT_EQ(parse_config("").robust, "none");
  try {
    parse_config("robust=Median");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("robust"), std::string::npos);
  }
}

}  // namespace
}  // namespace gw
