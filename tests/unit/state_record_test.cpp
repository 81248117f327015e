// The layer state record (src/scheme/state_record.h): version 3 carries a round
// scheme's extra floats after the feedback vectors, version 4 the robust rule's
// state after those (version 5's excluded set: excluded_section_test.cpp);
// version 2 and 3 records still load (a version-3 record's rule state starts
// fresh); a record whose sizes lie, or that is cut short or
// damaged, is GW_ERR_CORRUPT and leaves the layer as it was; rule state for
// another rule or another number of ranks is GW_ERR_INVALID_ARGUMENT.
#include <gtest/gtest.h>

#include <cstring>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/robust/peer_rule.h"
#include "src/scheme/state_record.h"
#include "tests/common/state_record_edit.h"

namespace gw {
namespace {

void name(Layer& l, const char* n) {
  l.name = n;
  l.name_hash = fnv1a64(l.name);
}

using gw_record::as_version;
using gw_record::reseal;
using gw_record::rule_at;
using gw_record::vectors_at;

gw_status load(Layer& l, const std::vector<uint8_t>& rec, const std::string& spec, const PeerRule* rule = nullptr,
               int world = 3) {
  try {
    load_state_record(l, rec.data(), rec.size(), spec, rule, world);
    return GW_SUCCESS;
  } catch (const Error& e) {
    return e.status();
  }
}

TEST(StateRecord, ExtraFloatsRoundTripAndVersion2StillLoads) {
  const std::string spec = "powersgd:rank=2,warm=1,min_rate=2,start=0,factors=fp32,ef=1";
  Layer a;
  name(a, "w");
  a.step = 7;
  std::vector<float> values = {1, 2, 3, 4, 5, 6, 7};  // 4 residual values, then 3 extra
  a.state.assign(spec, 4, Feedback::kResidual, 3, values.data());
  std::vector<uint8_t> rec = save_state_record(a, nullptr);

  Layer b;
  name(b, "w");
  ASSERT_EQ(load(b, rec, spec), GW_SUCCESS);
  EXPECT_EQ(b.step, 7u);
  EXPECT_EQ(b.state.count(), 4u);
  EXPECT_EQ(b.state.extra(), 3u);
  EXPECT_FALSE(b.state.needs_init());  // a loaded state is complete
  EXPECT_EQ(std::vector<float>(b.state.host(), b.state.host() + 7), values);

  // The same record as version 2 wrote it: no `extra` field (and so no extra floats).
  Layer c;
  name(c, "w");
  c.state.assign(spec, 4, Feedback::kResidual, 0, values.data());
  const std::vector<uint8_t> v2 = as_version(save_state_record(c, nullptr), 2);
  Layer d;
  name(d, "w");
  ASSERT_EQ(load(d, v2, spec), GW_SUCCESS);
  EXPECT_EQ(d.state.extra(), 0u);
  EXPECT_EQ(std::vector<float>(d.state.host(), d.state.host() + 4), std::vector<float>(values.begin(), values.begin() + 4));
}

TEST(StateRecord, LyingSizesAreCorruptAndLeaveTheLayerAlone) {
  const std::string spec = "powersgd:rank=2,warm=1,min_rate=2,start=0,factors=fp32,ef=1";
  Layer a;
  name(a, "w");
  std::vector<float> values(10, 0.5f);
  a.state.assign(spec, 6, Feedback::kResidual, 4, values.data());
  const std::vector<uint8_t> rec = save_state_record(a, nullptr);
  const size_t at = vectors_at(rec);
  for (uint64_t extra : {uint64_t(5), uint64_t(1) << 40, ~uint64_t(0)}) {  // more than the record holds
    std::vector<uint8_t> bad = rec;
    std::memcpy(bad.data() + at + 4, &extra, 8);
    reseal(bad);
    Layer b;
    name(b, "w");
    b.step = 3;
    EXPECT_EQ(load(b, bad, spec), GW_ERR_CORRUPT) << extra;
    EXPECT_EQ(b.step, 3u);
    EXPECT_TRUE(b.state.empty());
  }
  std::vector<uint8_t> fewer = rec;  // fewer extra floats than the bytes that follow
  const uint64_t three = 3;
  std::memcpy(fewer.data() + at + 4, &three, 8);
  reseal(fewer);
  Layer b;
  name(b, "w");
  EXPECT_EQ(load(b, fewer, spec), GW_ERR_CORRUPT);
  for (size_t cut : {size_t(1), size_t(5), rec.size() - at}) {  // cut short (and so failing its CRC)
    std::vector<uint8_t> s(rec.begin(), rec.end() - static_cast<long>(cut));
    EXPECT_EQ(load(b, s, spec), GW_ERR_CORRUPT) << cut;
  }
  EXPECT_EQ(load(b, rec, "powersgd:rank=4,warm=1,min_rate=2,start=0,factors=fp32,ef=1"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(b.state.empty());
}

// A layer whose rule keeps state: cc's center, or safeguard's windows for 3 ranks.
void with_rule_state(Layer& l, const char* rule, size_t count) {
  name(l, "w");
  l.step = 11;
  RuleState& rs = l.rule_state;
  rs.calls = 11;
  rs.count = count;
  if (std::string(rule).compare(0, 2, "cc") == 0) {
    for (size_t i = 0; i < count; ++i) rs.center.push_back(0.5f * static_cast<float>(i) - 1.0f);
  } else {
    rs.long_steps = 5;
    rs.short_steps = 2;
    for (size_t i = 0; i < 2 * 3 * count; ++i) rs.windows.push_back(0.25f * static_cast<float>(i));
  }
}

TEST(StateRecord, RuleStateRoundTripsUnderItsRule) {
  for (const char* spec : {"cc:tau=1,iters=2", "safeguard:long=8,short=3,ratio=3"}) {
    const auto rule = make_peer_rule(spec);
    Layer a;
    with_rule_state(a, spec, 4);
    const std::vector<uint8_t> rec = save_state_record(a, rule.get());
    Layer b;
    name(b, "w");
    ASSERT_EQ(load(b, rec, "", rule.get()), GW_SUCCESS) << spec;
    EXPECT_EQ(b.step, 11u);
    EXPECT_EQ(b.rule_state.calls, 11u);
    EXPECT_EQ(b.rule_state.count, 4u);
    EXPECT_EQ(b.rule_state.center, a.rule_state.center);
    EXPECT_EQ(b.rule_state.windows, a.rule_state.windows);
    EXPECT_EQ(b.rule_state.long_steps, a.rule_state.long_steps);
    EXPECT_EQ(b.rule_state.short_steps, a.rule_state.short_steps);
    EXPECT_EQ(save_state_record(b, rule.get()), rec) << spec;  // and back to the same bytes
  }
}

TEST(StateRecord, Version3RecordsLoadWithFreshRuleState) {
  const auto cc = make_peer_rule("cc");
  Layer a;
  with_rule_state(a, "cc", 3);
  const std::vector<uint8_t> v3 = as_version(save_state_record(a, cc.get()), 3);
  Layer b;
  with_rule_state(b, "cc", 3);  // state from before the load goes
  b.step = 2;
  ASSERT_EQ(load(b, v3, "", cc.get()), GW_SUCCESS);
  EXPECT_EQ(b.step, 11u);
  EXPECT_EQ(b.rule_state.calls, 0u);
  EXPECT_TRUE(b.rule_state.center.empty());
}

TEST(StateRecord, RuleStateForAnotherRuleOrWorldIsRefused) {
  const auto cc = make_peer_rule("cc"), cc2 = make_peer_rule("cc:tau=2"), median = make_peer_rule("median");
  const auto safeguard = make_peer_rule("safeguard:long=8,short=3");
  Layer a;
  with_rule_state(a, "cc", 3);
  const std::vector<uint8_t> rec = save_state_record(a, cc.get());
  for (const PeerRule* other : {median.get(), cc2.get(), static_cast<const PeerRule*>(nullptr)}) {
    Layer b;
    name(b, "w");
    b.step = 1;
    EXPECT_EQ(load(b, rec, "", other), GW_ERR_INVALID_ARGUMENT) << (other ? other->name() : "none");
    EXPECT_EQ(b.step, 1u);  // untouched
  }
  // Safeguard's windows were saved with 3 ranks: not for a communicator of 4.
  Layer s;
  with_rule_state(s, "safeguard", 3);
  const std::vector<uint8_t> srec = save_state_record(s, safeguard.get());
  Layer b;
  name(b, "w");
  EXPECT_EQ(load(b, srec, "", safeguard.get(), 4), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(load(b, srec, "", safeguard.get(), 3), GW_SUCCESS);
  // A rule that keeps no state saved its call count only: under another rule now, fresh.
  Layer m;
  name(m, "w");
  m.rule_state.calls = 6;
  const std::vector<uint8_t> mrec = save_state_record(m, median.get());
  Layer c;
  with_rule_state(c, "cc", 3);
  ASSERT_EQ(load(c, mrec, "", cc.get()), GW_SUCCESS);
  EXPECT_EQ(c.rule_state.calls, 0u);
  EXPECT_TRUE(c.rule_state.center.empty());
  ASSERT_EQ(load(c, mrec, "", median.get()), GW_SUCCESS);  // under its own rule: the calls come back
  EXPECT_EQ(c.rule_state.calls, 6u);
}

TEST(StateRecord, LyingRuleSizesAreCorrupt) {
  const auto cc = make_peer_rule("cc"), safeguard = make_peer_rule("safeguard:long=8,short=3");
  Layer a;
  with_rule_state(a, "cc", 3);
  const std::vector<uint8_t> rec = save_state_record(a, cc.get());
  const size_t at = rule_at(rec) + 4 + cc->name().size();  // rule count, calls, long, short, centers, windows
  auto patched = [&](const std::vector<uint8_t>& base, size_t field, uint64_t v) {
    std::vector<uint8_t> bad = base;
    std::memcpy(bad.data() + at + 8 * field, &v, 8);
    reseal(bad);
    return bad;
  };
  const uint64_t lies[][2] = {
      {4, 2}, {4, 4}, {4, uint64_t(1) << 40}, {4, ~uint64_t(0)},  // center floats: fewer, more, far more
      {5, 1}, {5, ~uint64_t(0)},                                   // window floats that are not there
      {0, 4}, {0, ~uint64_t(0)},                                   // a count the center does not match
      {2, 1},                                                      // window steps without windows
  };
  for (const auto& lie : lies) {
    Layer b;
    name(b, "w");
    b.step = 3;
    EXPECT_EQ(load(b, patched(rec, lie[0], lie[1]), "", cc.get()), GW_ERR_CORRUPT) << lie[0] << " " << lie[1];
    EXPECT_EQ(b.step, 3u);
    EXPECT_TRUE(b.rule_state.center.empty());
  }
  // Safeguard: steps at or past a window's length; windows for a count that does not divide them.
  Layer s;
  with_rule_state(s, "safeguard", 2);
  const std::vector<uint8_t> srec = save_state_record(s, safeguard.get());
  const size_t sat = rule_at(srec) + 4 + safeguard->name().size();
  for (const auto& lie : std::vector<std::pair<size_t, uint64_t>>{{2, 8}, {3, 3}, {0, 5}, {0, 0}}) {
    std::vector<uint8_t> bad = srec;
    std::memcpy(bad.data() + sat + 8 * lie.first, &lie.second, 8);
    reseal(bad);
    Layer b;
    name(b, "w");
    EXPECT_EQ(load(b, bad, "", safeguard.get()), GW_ERR_CORRUPT) << lie.first << " " << lie.second;
  }
  // Rule state under no rule's name.
  Layer n;
  name(n, "w");
  std::vector<uint8_t> none = save_state_record(n, nullptr);
  const uint64_t six = 6;
  std::memcpy(none.data() + rule_at(none) + 4 + 8, &six, 8);  // calls
  reseal(none);
  Layer b;
  name(b, "w");
  EXPECT_EQ(load(b, none, ""), GW_ERR_CORRUPT);
}

}  // namespace
}  // namespace gw
