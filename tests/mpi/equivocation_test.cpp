// Equivocation (docs/ROBUST.md "Equivocation"): the last rank sends
// well-formed but different messages to different peers (config
// attack=equivocate, src/robust/wire_attack.h). Under a robust rule the ranks
// share the hashes of what they received after each exchange: every rank must
// then catch the sender, name it (log and gw_stats.equivocations), leave it
// out of the call, and every honest rank must hold the bit-identical result
// of the rule over the honest rows, at small calls and over many pipelined
// rounds. A layer without a rule in the same call cannot leave it out: a named
// GW_ERR_CORRUPT on every honest rank. Needs 3 ranks or more (with 2, a
// sender has one receiver and nothing differs).
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "src/common/hash.h"
#include "src/robust/peer_rule.h"
#include "tests/mpi/mpi_test_util.h"
#include "tests/mpi/rule_replay.h"

namespace gwtest {
namespace {

std::string attack_config(const std::string& rest) {
  return rest + ";timeout=20;attack=equivocate:ranks=" + std::to_string(world_size() - 1);
}

class Equivocation : public testing::TestWithParam<const char*> {};

TEST_P(Equivocation, EveryRankCatchesTheSenderAndHonestRanksAgreeWithoutIt) {
  if (world_size() < 3) GTEST_SKIP() << "a sender needs two receivers to be seen equivocating";
  const int me = world_rank(), attacker = world_size() - 1;
  const std::string rule_spec = GetParam();
  auto rule = gw::make_peer_rule(rule_spec);
  std::vector<int> honest;
  for (int q = 0; q < attacker; ++q) honest.push_back(q);
  // 1000 floats: the small-call path; 300007 in 64K chunks: many rounds, so a
  // whole-vector rule gathers the rows of pieces the hash rows came after.
  for (const char* extra : {"", "fallback_bytes=0;"}) {
    for (size_t n : {size_t(1000), size_t(300007)}) {
      CommGuard comm(attack_config(std::string(extra) + "compressor=none;chunk_bytes=64K;robust=" + rule_spec));
      gw::RuleState st;
      for (uint32_t call = 0; call < 2; ++call) {
        std::vector<float> in = make_input(me, n, 30 + call), out(n, -7.0f);
        const gw_status s = gw_allreduce(comm, "w", in.data(), out.data(), n, GW_FLOAT32, GW_AVG, nullptr);
        const std::string msg = gw_last_error();
        std::vector<Outcome> all = outcomes(s, out);
        for (int q : honest) {
          ASSERT_EQ(all[q].status, GW_SUCCESS) << "rank " << q << ", " << rule_spec << " n=" << n;
          EXPECT_EQ(all[q].hash, all[0].hash) << "honest ranks 0 and " << q << " disagree, n=" << n;
        }
        std::vector<int> removed;
        if (me != attacker) {
          EXPECT_EQ(out, replay(*rule, honest, n, 30 + call, "w", call, st, removed))
              << rule_spec << " n=" << n << " call " << call << ": not the rule over the honest rows";
        }
        gw_stats stats;
        ASSERT_EQ(gw_layer_stats(comm, "w", &stats), GW_SUCCESS);
        EXPECT_EQ(stats.equivocations, call + 1u) << "one sender left out per call";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, Equivocation, testing::Values("mean", "median", "geomed", "cc:tau=0.5"));

TEST(Equivocation, CompressedPayloadsAgreeToo) {
  if (world_size() < 3) GTEST_SKIP();
  const int me = world_rank(), attacker = world_size() - 1;
  CommGuard comm(attack_config("fallback_bytes=0;chunk_bytes=64K;compressor=maxmin:bits=4;robust=median"));
  const size_t n = 100003;
  std::vector<float> in = make_input(me, n, 7), out(n);
  const gw_status s = gw_allreduce(comm, "w", in.data(), out.data(), n, GW_FLOAT32, GW_AVG, nullptr);
  std::vector<Outcome> all = outcomes(s, out);
  for (int q = 0; q < attacker; ++q) {
    EXPECT_EQ(all[q].status, GW_SUCCESS) << "rank " << q;
    EXPECT_EQ(all[q].hash, all[0].hash) << "honest ranks 0 and " << q << " disagree";
  }
  gw_stats stats;
  ASSERT_EQ(gw_comm_stats(comm, &stats), GW_SUCCESS);
  EXPECT_EQ(stats.equivocations, 1u);
}

TEST(Equivocation, HonestSendersAreNeverFlagged) {
  if (world_size() < 3) GTEST_SKIP();
  CommGuard comm("fallback_bytes=0;chunk_bytes=64K;compressor=qsgd:bits=4;robust=median");
  const size_t n = 200001;
  std::vector<float> in = make_input(world_rank(), n, 3), out(n);
  for (int call = 0; call < 3; ++call)
    ASSERT_EQ(gw_allreduce(comm, "w", in.data(), out.data(), n, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
        << gw_last_error();
  gw_stats stats;
  ASSERT_EQ(gw_comm_stats(comm, &stats), GW_SUCCESS);
  EXPECT_EQ(stats.equivocations, 0u);
  ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
}

TEST(Equivocation, ALayerWithoutARuleInTheSameCallIsANamedErrorOnEveryHonestRank) {
  if (world_size() < 3) GTEST_SKIP();
  const int me = world_rank(), attacker = world_size() - 1;
  CommGuard comm(attack_config("fallback_bytes=0;compressor=none"));
  ASSERT_EQ(gw_layer_set_robust(comm, "a", "median"), GW_SUCCESS) << gw_last_error();
  const size_t n = 4000;
  std::vector<float> in = make_input(me, 2 * n, 9), out(2 * n);
  const char* names[] = {"a", "b"};  // "b" keeps the running sum
  const size_t offsets[] = {0, n}, counts[] = {n, n};
  const gw_status s =
      gw_allreduce_multi(comm, 2, names, offsets, counts, in.data(), out.data(), GW_FLOAT32, GW_AVG, nullptr);
  const std::string msg = gw_last_error();
  std::vector<Outcome> all = outcomes(s, out);
  if (me == attacker) return;
  EXPECT_EQ(s, GW_ERR_CORRUPT) << msg;
  EXPECT_TRUE(contains(msg, "rank " + std::to_string(attacker))) << msg;
  EXPECT_TRUE(contains(msg, "'b'")) << msg;
  for (int q = 0; q < attacker; ++q) EXPECT_EQ(all[q].status, GW_ERR_CORRUPT) << "rank " << q;
}

}  // namespace
}  // namespace gwtest
