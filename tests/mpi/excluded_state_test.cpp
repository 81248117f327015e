// The communicator's excluded set in checkpoints (state record version 5,
// src/scheme/excluded_section.h), through real ranks. SafeguardSGD removes a
// sign-flipping rank (attack=signflip: the last rank); every layer with a
// rule saves the set with its state, and a fresh communicator that loads one
// such record leaves the rank out from its first call, in every layer with a
// rule. Version 4 records still load and leave the set as it is; sets that
// are damaged or do not fit the communicator are refused on every rank with
// nothing changed; ranks that load different sets all get GW_ERR_MISMATCH.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "tests/common/state_record_edit.h"
#include "tests/mpi/mpi_test_util.h"
#include "tests/mpi/rule_replay.h"

namespace gwtest {
namespace {

using gw_record::with_excluded;

constexpr size_t kCount = 3001;
// Layer "w" follows the communicator's rule (safeguard); layer "b" has its own
// (the mean, which keeps no state and would combine the attacker's row).
const char* const kConfig = "compressor=none;robust=safeguard:long=16,short=4,ratio=3;attack=signflip";

gw_comm_t make_attacked() {
  gw_comm_t c = make_comm(kConfig);
  EXPECT_EQ(gw_layer_set_robust(c, "b", "mean"), GW_SUCCESS) << gw_last_error();
  return c;
}

gw_status call(gw_comm_t c, const char* layer, uint32_t salt, std::vector<float>& out) {
  const std::vector<float> in = make_input(world_rank(), kCount, salt);
  out.assign(kCount, -7.0f);
  return gw_allreduce(c, layer, in.data(), out.data(), kCount, GW_FLOAT32, GW_AVG, nullptr);
}

std::vector<int> excluded(gw_comm_t c) {
  int ranks[16], count = -1;
  EXPECT_EQ(gw_comm_get_excluded(c, ranks, 16, &count), GW_SUCCESS) << gw_last_error();
  return std::vector<int>(ranks, ranks + (count > 0 ? count : 0));
}

gw_status load(gw_comm_t c, const char* layer, const std::vector<uint8_t>& rec) {
  return gw_layer_load_state(c, layer, rec.data(), rec.size());
}

// The mean of every rank's input but the last one's, as the rules compute it.
std::vector<float> honest_mean(uint32_t salt) {
  std::vector<int> honest, removed;
  for (int q = 0; q + 1 < world_size(); ++q) honest.push_back(q);
  std::vector<std::vector<float>> rows;
  std::vector<const float*> ptrs;
  for (int q : honest) rows.push_back(make_input(q, kCount, salt));
  for (const auto& row : rows) ptrs.push_back(row.data());
  gw::RuleState st;
  return combine_rows(*gw::make_peer_rule("mean"), ptrs, honest, kCount, 0, st, removed);
}

struct Records {
  std::vector<uint8_t> w, b;
};

// The records of layers "w" and "b" once safeguard has removed the attacker.
Records records_after_removal() {
  gw_comm_t c = make_attacked();
  std::vector<float> out;
  for (uint32_t t = 0; t < 16 && excluded(c).empty(); ++t) {
    EXPECT_EQ(call(c, "w", t, out), GW_SUCCESS) << gw_last_error();
    EXPECT_EQ(call(c, "b", t, out), GW_SUCCESS) << gw_last_error();
  }
  EXPECT_EQ(excluded(c), std::vector<int>{world_size() - 1});
  Records r{save_layer_state(c, "w"), save_layer_state(c, "b")};
  gw_comm_destroy(c);
  return r;
}

TEST(ExcludedState, ARemovedRankIsExcludedFromTheFirstCallAfterALoad) {
  if (world_size() < 3) GTEST_SKIP() << "two ranks cannot tell who flips (nor keep a majority without one)";
  const Records recs = records_after_removal();
  const std::vector<int> attacker{world_size() - 1};
  const std::vector<float> want = honest_mean(100);
  for (const char* loaded : {"w", "b"}) {
    gw_comm_t c = make_attacked();
    ASSERT_TRUE(excluded(c).empty());
    ASSERT_EQ(load(c, loaded, loaded[0] == 'w' ? recs.w : recs.b), GW_SUCCESS) << gw_last_error();
    EXPECT_EQ(excluded(c), attacker) << loaded;  // before any call
    gw_stats stats;
    ASSERT_EQ(gw_comm_stats(c, &stats), GW_SUCCESS);
    EXPECT_EQ(stats.ranks_excluded, 1u);
    // Both layers, the one loaded and the one not, combine the honest rows only.
    std::vector<float> out;
    for (const char* layer : {"b", "w"}) {
      ASSERT_EQ(call(c, layer, 100, out), GW_SUCCESS) << gw_last_error();
      EXPECT_EQ(out, want) << "loaded " << loaded << ", called " << layer;
      EXPECT_TRUE(same_on_all_ranks(out.data(), kCount * sizeof(float)));
    }
    // The other layer's record carries the same set: loading it adds nothing.
    ASSERT_EQ(load(c, loaded[0] == 'w' ? "b" : "w", loaded[0] == 'w' ? recs.b : recs.w), GW_SUCCESS)
        << gw_last_error();
    EXPECT_EQ(excluded(c), attacker);
    gw_comm_destroy(c);
  }
  // Without the record the mean combines the attacker's row: the set is what made the difference.
  gw_comm_t cold = make_attacked();
  std::vector<float> out;
  ASSERT_EQ(call(cold, "b", 100, out), GW_SUCCESS) << gw_last_error();
  EXPECT_NE(out, want);
  gw_comm_destroy(cold);
}

TEST(ExcludedState, Version4RecordsLoadAndLeaveTheSetAsItIs) {
  if (world_size() < 3) GTEST_SKIP() << "two ranks cannot tell who flips";
  const Records recs = records_after_removal();
  gw_comm_t c = make_attacked();
  ASSERT_EQ(load(c, "w", gw_record::as_version(recs.w, 4)), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(load(c, "b", gw_record::as_version(recs.b, 4)), GW_SUCCESS) << gw_last_error();
  EXPECT_TRUE(excluded(c).empty());
  std::vector<float> out;
  ASSERT_EQ(call(c, "b", 100, out), GW_SUCCESS) << gw_last_error();
  EXPECT_NE(out, honest_mean(100));  // the attacker counts again, as before version 5
  EXPECT_TRUE(same_on_all_ranks(out.data(), kCount * sizeof(float)));
  gw_comm_destroy(c);
}

TEST(ExcludedState, BadSetsAreRefusedOnEveryRankAndChangeNothing) {
  const uint32_t n = static_cast<uint32_t>(world_size());
  // A mean layer's record with no ranks excluded (any np): the sets below are written into it.
  gw_comm_t first = make_attacked();
  std::vector<float> out;
  ASSERT_EQ(call(first, "b", 0, out), GW_SUCCESS) << gw_last_error();
  const std::vector<uint8_t> rec = save_layer_state(first, "b");
  gw_comm_destroy(first);
  std::vector<uint32_t> half;  // the upper half of the ranks: no majority left
  for (uint32_t q = n / 2; q < n; ++q) half.push_back(q);
  const struct {
    std::vector<uint8_t> rec;
    gw_status want;
    const char* what;
  } cases[] = {
      {with_excluded(rec, n, {n}), GW_ERR_CORRUPT, "a rank out of range"},
      {with_excluded(rec, n, {n - 1, n - 1}), GW_ERR_CORRUPT, "a repeated rank"},
      {with_excluded(rec, n, half), GW_ERR_INVALID_ARGUMENT, "no majority left"},
      {with_excluded(rec, n + 1, {n - 1}), GW_ERR_INVALID_ARGUMENT, "another world size"},
  };
  gw_comm_t c = make_attacked();
  for (const auto& k : cases) {
    const gw_status s = load(c, "b", k.rec);
    EXPECT_EQ(s, k.want) << k.what << ": " << gw_last_error();
    EXPECT_TRUE(contains(gw_last_error(), "excluded")) << gw_last_error();
    EXPECT_TRUE(all_ranks(s == k.want)) << k.what;
    EXPECT_TRUE(excluded(c).empty()) << k.what;
  }
  // Nothing changed: the layer's calls go on, the attacker's row combined.
  ASSERT_EQ(call(c, "b", 1, out), GW_SUCCESS) << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(out.data(), kCount * sizeof(float)));
  gw_comm_destroy(c);
  if (n < 3) return;
  // A set that fits alone but not with the one excluded now (the union leaves no majority).
  gw_comm_t u = make_attacked();
  ASSERT_EQ(load(u, "b", with_excluded(rec, n, {n - 1})), GW_SUCCESS) << gw_last_error();
  const gw_status s = load(u, "b", with_excluded(rec, n, {0}));
  EXPECT_EQ(s, GW_ERR_INVALID_ARGUMENT) << gw_last_error();
  EXPECT_TRUE(contains(gw_last_error(), "majority")) << gw_last_error();
  EXPECT_TRUE(all_ranks(s == GW_ERR_INVALID_ARGUMENT));
  EXPECT_EQ(excluded(u), std::vector<int>{static_cast<int>(n) - 1});
  gw_comm_destroy(u);
}

TEST(ExcludedState, RanksThatLoadDifferentSetsAllGetMismatch) {
  if (world_size() < 3) GTEST_SKIP() << "two ranks cannot tell who flips";
  const Records recs = records_after_removal();
  // Rank 0 loads the set, the others the same record without it (version 4):
  // everything else they load is alike.
  gw_comm_t c = make_attacked();
  ASSERT_EQ(load(c, "b", world_rank() == 0 ? recs.b : gw_record::as_version(recs.b, 4)), GW_SUCCESS)
      << gw_last_error();
  std::vector<float> out;
  for (int k = 0; k < 2; ++k) {  // and again: the sets still differ, never a silent divergence
    const gw_status s = call(c, "b", 100, out);
    EXPECT_EQ(s, GW_ERR_MISMATCH) << gw_last_error();
    EXPECT_TRUE(all_ranks(s == GW_ERR_MISMATCH)) << "call " << k;
  }
  gw_comm_destroy(c);
}

}  // namespace
}  // namespace gwtest
