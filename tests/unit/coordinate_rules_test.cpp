// The coordinate-wise rules' block path (sorting networks over blocks of
// coordinates, src/robust/coordinate_rules.cpp) against the rules' scalar
// definition, on random columns full of ties, signed zeros, infinities,
// subnormals and NaN, for every m up to 20 (and around the network's limit
// of 64 rows), with counts that are not multiples of any block.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "src/robust/peer_rule.h"

namespace gw {
namespace {

using Rows = std::vector<std::vector<float>>;

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// The definition: NaN above +Inf (all NaNs alike), -0 below +0, else by value.
bool def_less(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return !std::isnan(a) && std::isnan(b);
  if (a != b) return a < b;
  return std::signbit(a) && !std::signbit(b);
}

std::vector<float> sorted_column(const Rows& rows, size_t i) {
  std::vector<float> c;
  for (const auto& r : rows) c.push_back(r[i]);
  std::stable_sort(c.begin(), c.end(), def_less);
  return c;
}

float def_median(const Rows& rows, size_t i) {
  const std::vector<float> c = sorted_column(rows, i);
  const size_t m = c.size();
  if (m % 2) return c[m / 2];
  return c[m / 2 - 1] * 0.5f + c[m / 2] * 0.5f;
}

float def_trimmed(const Rows& rows, size_t i, int b) {
  const std::vector<float> c = sorted_column(rows, i);
  const int kept = static_cast<int>(c.size()) - 2 * b;
  float s = c[static_cast<size_t>(b)];
  for (int k = b + 1; k < b + kept; ++k) s += c[static_cast<size_t>(k)];
  return s * (1.0f / static_cast<float>(kept));
}

// m rows of `count` values: mostly drawn from a small pool (ties, +-0, +-Inf,
// +-FLT_MAX, subnormals), the rest random; NaN (several payloads and signs)
// only in the first third of the coordinates, so later blocks have none.
Rows random_rows(int m, size_t count, std::mt19937& gen) {
  const float inf = std::numeric_limits<float>::infinity();
  const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, 0.5f, inf, -inf, FLT_MAX, -FLT_MAX,
                        std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                        from_bits(0x00000003u), 3.0f};
  const float nans[] = {from_bits(0x7fc00000u), from_bits(0xffc00000u), from_bits(0x7f800001u), from_bits(0xff912345u)};
  std::uniform_int_distribution<int> pick(0, 99);
  std::uniform_int_distribution<size_t> in_pool(0, sizeof(pool) / sizeof(pool[0]) - 1);
  std::uniform_int_distribution<size_t> in_nans(0, 3);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  Rows rows(static_cast<size_t>(m), std::vector<float>(count));
  for (size_t i = 0; i < count; ++i) {
    const bool nan_zone = i < count / 3 && pick(gen) < 3;
    for (int r = 0; r < m; ++r) {
      const int u = pick(gen);
      float v = u < 50 ? pool[in_pool(gen)] : normal(gen);
      if (nan_zone && u % 3 == 0) v = nans[in_nans(gen)];
      rows[static_cast<size_t>(r)][i] = v;
    }
  }
  return rows;
}

std::vector<float> run(const PeerRule& rule, const Rows& rows, size_t begin, size_t end) {
  std::vector<const float*> peers;
  for (const auto& r : rows) peers.push_back(r.data() + begin);
  std::vector<int> ranks(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) ranks[r] = static_cast<int>(r);
  PeerRows p;
  p.rows = peers.data();
  p.ranks = ranks.data();
  p.m = static_cast<int>(rows.size());
  p.world = p.m;
  p.key = 7;
  RuleState state;
  std::vector<int> removed;
  std::vector<float> out(end - begin, -123.0f);
  rule.combine(p, out.size(), out.data(), state, removed);
  return out;
}

// got == want bit for bit, or both NaN (which NaN a NaN result carries is not defined).
::testing::AssertionResult same(float got, float want) {
  if (std::isnan(want) ? std::isnan(got) : bits_of(got) == bits_of(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << " (0x" << std::hex << bits_of(got) << ") want " << want
                                       << " (0x" << bits_of(want) << ")";
}

// Checks `spec` against `def` coordinate by coordinate, then that a call split
// into two pieces at odd offsets gives the same bytes as one call.
template <typename Def>
void check_rule(const char* spec, const Rows& rows, Def def) {
  const auto rule = make_peer_rule(spec);
  const size_t count = rows[0].size();
  const std::vector<float> out = run(*rule, rows, 0, count);
  int bad = 0;
  for (size_t i = 0; i < count && bad < 5; ++i) {
    const auto r = same(out[i], def(rows, i));
    if (!r) {
      ADD_FAILURE() << spec << " m=" << rows.size() << " count=" << count << " i=" << i << ": " << r.message();
      ++bad;
    }
  }
  const size_t cut = count / 3 + 1 < count ? count / 3 + 1 : count;
  std::vector<float> pieces = run(*rule, rows, 0, cut);
  const std::vector<float> tail = run(*rule, rows, cut, count);
  pieces.insert(pieces.end(), tail.begin(), tail.end());
  EXPECT_EQ(0, std::memcmp(pieces.data(), out.data(), count * sizeof(float))) << spec << " m=" << rows.size();
}

TEST(CoordinateRules, BlockPathMatchesTheDefinitionForEveryMUpTo20) {
  std::mt19937 gen(2026);
  for (int m = 1; m <= 20; ++m) {
    for (size_t count : {size_t{1}, size_t{5}, size_t{63}, size_t{1000}, size_t{1025}, size_t{3001}}) {
      const Rows rows = random_rows(m, count, gen);
      check_rule("median", rows, def_median);
      for (int b = 1; 2 * b < m; ++b) {
        const std::string spec = "trimmed:b=" + std::to_string(b);
        check_rule(spec.c_str(), rows, [b](const Rows& r, size_t i) { return def_trimmed(r, i, b); });
      }
    }
  }
}

TEST(CoordinateRules, AroundTheNetworkLimitAndBeyond) {
  std::mt19937 gen(7);
  for (int m : {31, 32, 33, 63, 64, 65, 70}) {
    const Rows rows = random_rows(m, 1500, gen);
    check_rule("median", rows, def_median);
    check_rule("trimmed:b=1", rows, [](const Rows& r, size_t i) { return def_trimmed(r, i, 1); });
    check_rule("trimmed:b=7", rows, [](const Rows& r, size_t i) { return def_trimmed(r, i, 7); });
  }
}

TEST(CoordinateRules, SignedZerosAndInfinitiesHaveOneAnswer) {
  const float inf = std::numeric_limits<float>::infinity();
  // -0 sorts below +0: the median of {+0, -0, -0} is -0, of {+0, +0, -0} +0.
  Rows rows = {{0.0f, 0.0f}, {-0.0f, 0.0f}, {-0.0f, -0.0f}};
  std::vector<float> out = run(*make_peer_rule("median"), rows, 0, 2);
  EXPECT_TRUE(std::signbit(out[0]));
  EXPECT_FALSE(std::signbit(out[1]));
  // Even count: -Inf and +Inf in the middle make NaN; -0 and +0 make +0.
  rows = {{-inf, -0.0f}, {inf, 0.0f}, {-inf, -1.0f}, {inf, 1.0f}};
  out = run(*make_peer_rule("median"), rows, 0, 2);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(bits_of(out[1]), 0u);
  // Trimmed mean, b = 1 of five: the kept middle -0, -0, +0 sums to +0 in sorted order.
  rows = {{-0.0f}, {0.0f}, {-0.0f}, {-5.0f}, {5.0f}};
  out = run(*make_peer_rule("trimmed:b=1"), rows, 0, 1);
  EXPECT_EQ(bits_of(out[0]), 0u);
}

}  // namespace
}  // namespace gw
