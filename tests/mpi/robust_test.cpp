// The reducer that keeps every peer's decoded vector (config robust=), through
// real MPI ranks: the median against its definition, an outlier rank that
// moves the mean and not the median, compressed payloads, bit-identical
// results on every rank, large and small calls, every rule against a local
// replay of its definition (whole-vector rules over pipelined rounds, rule
// state across calls), SafeguardSGD removing an attacker for good, per-layer
// rules, and ranks that disagree on the rule or a parameter (GW_ERR_MISMATCH
// on every rank, no hang).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>

#include "tests/mpi/mpi_test_util.h"
#include "tests/mpi/rule_replay.h"
#include "src/algo/exchange_order.h"
#include "src/common/hash.h"
#include "src/common/rng.h"
#include "src/config/config.h"
#include "src/robust/attack.h"
#include "src/robust/peer_rule.h"
#include "src/spec/registry.h"

namespace gwtest {
namespace {

gw_status reduce(gw_comm_t c, const std::vector<float>& send, std::vector<float>& recv, gw_op op = GW_AVG,
                 const char* layer = "w") {
  recv.assign(send.size(), -7.0f);
  return gw_allreduce(c, layer, send.data(), recv.data(), send.size(), GW_FLOAT32, op, nullptr);
}

// The median over ranks of every rank's input (each rank regenerates them all).
std::vector<float> median_of_inputs(int nranks, size_t n, uint32_t salt) {
  std::vector<float> out(n), col(static_cast<size_t>(nranks));
  for (size_t i = 0; i < n; ++i) {
    for (int r = 0; r < nranks; ++r) col[static_cast<size_t>(r)] = input_value(r, i, salt);
    std::sort(col.begin(), col.end());
    const size_t mid = col.size() / 2;
    out[i] = col.size() % 2 ? col[mid] : col[mid - 1] * 0.5f + col[mid] * 0.5f;
  }
  return out;
}

TEST(Robust, MedianOfUncompressedInputsIsExactOnEveryRankAtEverySize) {
  const int r = world_rank(), n_ranks = world_size();
  for (size_t n : {size_t(1), size_t(7), size_t(1000), size_t(300007)}) {  // small calls and pipelined rounds
    for (const char* extra : {"", "fallback_bytes=64K;"}) {
      CommGuard comm(std::string(extra) + "robust=median;compressor=none;chunk_bytes=64K");
      std::vector<float> out;
      ASSERT_EQ(reduce(comm, make_input(r, n, 5), out), GW_SUCCESS) << gw_last_error();
      EXPECT_EQ(out, median_of_inputs(n_ranks, n, 5)) << "n=" << n << " " << extra;
      ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
      // GW_SUM: n times the rule's estimate of the mean.
      std::vector<float> sum;
      ASSERT_EQ(reduce(comm, make_input(r, n, 5), sum, GW_SUM), GW_SUCCESS) << gw_last_error();
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(sum[i], out[i] * static_cast<float>(n_ranks)) << i;
    }
  }
}

TEST(Robust, MeanRuleEqualsTheRunningSumBitForBit) {
  const int r = world_rank();
  const size_t n = 50021;
  CommGuard plain("algorithm=allgather;compressor=none"), mean("robust=mean;compressor=none");
  std::vector<float> a, b;
  ASSERT_EQ(reduce(plain, make_input(r, n, 9), a), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(reduce(mean, make_input(r, n, 9), b), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(a, b);
}

TEST(Robust, AnOutlierRankMovesTheMeanButNotTheMedian) {
  const int r = world_rank(), n_ranks = world_size();
  if (n_ranks < 3) GTEST_SKIP() << "a median of two is their mean";
  const size_t n = 4099;
  std::vector<float> in = make_input(r, n, 2);
  if (r == n_ranks - 1) std::fill(in.begin(), in.end(), 1e6f);  // the last rank attacks
  CommGuard median("robust=median;compressor=maxmin:bits=8"), mean("robust=mean;compressor=maxmin:bits=8");
  std::vector<float> med, avg;
  ASSERT_EQ(reduce(median, in, med), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(reduce(mean, in, avg), GW_SUCCESS) << gw_last_error();
  ASSERT_TRUE(same_on_all_ranks(med.data(), 4 * n));
  // Every coordinate of the median lies within the honest ranks' range (up to
  // the 8-bit quantization of a bucket), the mean is dragged to ~1e6 / n.
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    float lo = input_value(0, i, 2), hi = lo;
    for (int q = 1; q < n_ranks - 1; ++q) {
      lo = std::min(lo, input_value(q, i, 2));
      hi = std::max(hi, input_value(q, i, 2));
    }
    worst = std::max(worst, std::max<double>(lo - med[i], med[i] - hi));
    ASSERT_GT(avg[i], 1e6f / n_ranks - 10) << i;
  }
  EXPECT_LT(worst, 0.05) << "median left the honest range";
}

TEST(Robust, TopkPayloadsAreCombinedAfterDecoding) {
  const int r = world_rank(), n_ranks = world_size();
  const size_t n = 10007;
  // ef=0: each rank's decoded vector is its top 10% (zeros elsewhere); every
  // rank gets the median of those vectors, replayed here with the codec.
  const char* spec = "topk:density=0.1,ef=0";
  CommGuard comm(std::string("robust=median;compressor=") + spec);
  std::vector<float> out;
  ASSERT_EQ(reduce(comm, make_input(r, n, 3), out), GW_SUCCESS) << gw_last_error();
  ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
  auto codec = gw::make_compressor(spec);
  std::vector<std::vector<float>> decoded(static_cast<size_t>(n_ranks), std::vector<float>(n));
  std::vector<uint8_t> payload(codec->encoded_bytes(n));
  for (int q = 0; q < n_ranks; ++q) {
    std::vector<float> in = make_input(q, n, 3);
    bool nonfinite = false;
    size_t bytes = codec->encode(in.data(), n, payload.data(), 0, &nonfinite);
    codec->decode(payload.data(), bytes, n, decoded[static_cast<size_t>(q)].data());
  }
  std::vector<float> col(static_cast<size_t>(n_ranks));
  for (size_t i = 0; i < n; ++i) {
    for (int q = 0; q < n_ranks; ++q) col[static_cast<size_t>(q)] = decoded[static_cast<size_t>(q)][i];
    std::sort(col.begin(), col.end());
    const size_t mid = col.size() / 2;
    const float want = col.size() % 2 ? col[mid] : col[mid - 1] * 0.5f + col[mid] * 0.5f;
    ASSERT_EQ(out[i], want) << i;
  }
}

TEST(Robust, RanksThatDisagreeOnTheRuleAllGetMismatch) {
  const int r = world_rank();
  for (size_t n : {size_t(10), size_t(100003)}) {
    CommGuard comm(std::string("fallback_bytes=64K;compressor=none;robust=") + (r == 0 ? "median" : "none"));
    std::vector<float> out;
    gw_status s = reduce(comm, make_input(r, n, 1), out);
    EXPECT_EQ(s, GW_ERR_MISMATCH) << "n=" << n << ": " << gw_last_error();
    ASSERT_TRUE(all_ranks(s == GW_ERR_MISMATCH));
  }
}

std::vector<int> all_ranks_list() {
  std::vector<int> v;
  for (int q = 0; q < world_size(); ++q) v.push_back(q);
  return v;
}

TEST(Robust, EveryRuleEqualsItsLocalReplayOnEveryRank) {
  const int r = world_rank(), n_ranks = world_size();
  struct Case {
    const char* spec;
    int min_ranks;
  };
  const Case cases[] = {{"trimmed:b=1", 3},          {"krum:f=0,m=2", 3},       {"krum:f=1", 4},
                        {"geomed:nu=1e-6,iters=8", 1}, {"cc:tau=0.5,iters=2", 1}, {"median:bucket=2", 1},
                        {"cc:tau=2,bucket=2", 1},     {"trimmed:b=1,bucket=1", 3}};
  for (const Case& c : cases) {
    if (n_ranks < c.min_ranks) continue;
    auto rule = gw::make_peer_rule(c.spec);
    // 300007 floats in 64K chunks: a whole-vector rule sees the layer over
    // many pipelined pieces; 7 floats: one small piece.
    for (size_t n : {size_t(7), size_t(300007)}) {
      CommGuard comm(std::string("compressor=none;chunk_bytes=64K;robust=") + c.spec);
      gw::RuleState st;  // the replay's own copy of the layer's rule state
      for (uint32_t call = 0; call < 3; ++call) {  // cc's center carries over
        std::vector<float> out;
        ASSERT_EQ(reduce(comm, make_input(r, n, 20 + call), out), GW_SUCCESS) << c.spec << ": " << gw_last_error();
        std::vector<int> removed;
        EXPECT_EQ(out, replay(*rule, all_ranks_list(), n, 20 + call, "w", call, st, removed))
            << c.spec << " n=" << n << " call " << call;
        ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n)) << c.spec;
      }
    }
  }
}

TEST(Robust, TooFewRanksForARuleIsANamedErrorOnEveryRank) {
  const int n_ranks = world_size();
  CommGuard comm(std::string("compressor=none;robust=krum:f=") + std::to_string(n_ranks - 2));
  std::vector<float> out;
  gw_status s = reduce(comm, make_input(world_rank(), 1000, 1), out);
  EXPECT_EQ(s, GW_ERR_INVALID_ARGUMENT) << gw_last_error();
  EXPECT_NE(std::string(gw_last_error()).find("f + 3"), std::string::npos) << gw_last_error();
  ASSERT_TRUE(all_ranks(s == GW_ERR_INVALID_ARGUMENT));
}

TEST(Robust, SafeguardRemovesADriftingRankForGoodOnEveryRank) {
  const int r = world_rank(), n_ranks = world_size();
  if (n_ranks < 3) GTEST_SKIP() << "two ranks cannot tell who drifts";
  const size_t n = 4096;
  const int attacker = n_ranks - 1;
  const float bias = 2.0f;  // a steady push, well inside each call's range
  const char* spec = "safeguard:long=16,short=4,ratio=3";
  CommGuard comm(std::string("compressor=none;robust=") + spec);
  auto rule = gw::make_peer_rule(spec);
  gw::RuleState st;
  std::vector<int> good = all_ranks_list();
  int removed_at = -1;
  for (uint32_t call = 0; call < 12; ++call) {
    std::vector<float> in = make_input(r, n, 40 + call), out;
    if (r == attacker)
      for (float& x : in) x += bias;
    ASSERT_EQ(reduce(comm, in, out), GW_SUCCESS) << gw_last_error();
    std::vector<int> removed;
    EXPECT_EQ(out, replay(*rule, good, n, 40 + call, "w", call, st, removed, bias, attacker)) << "call " << call;
    for (int q : removed) {
      good.erase(std::find(good.begin(), good.end(), q));
      if (removed_at < 0) removed_at = static_cast<int>(call);
    }
    ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
  }
  EXPECT_GE(removed_at, 0);
  EXPECT_LE(removed_at, 4);
  // The communicator names it, and so do its statistics, on every rank.
  int ranks[8] = {-1}, count = 0;
  ASSERT_EQ(gw_comm_get_excluded(comm, ranks, 8, &count), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(count, 1);
  EXPECT_EQ(ranks[0], attacker);
  gw_stats stats;
  ASSERT_EQ(gw_comm_stats(comm, &stats), GW_SUCCESS);
  EXPECT_EQ(stats.ranks_excluded, 1u);
  EXPECT_GT(stats.state_bytes, 0u);  // the windows
  EXPECT_EQ(gw_comm_get_excluded(comm, nullptr, 0, &count), GW_SUCCESS);
  EXPECT_EQ(gw_comm_get_excluded(comm, nullptr, 1, &count), GW_ERR_INVALID_ARGUMENT);
}

TEST(Robust, ALayerCanHaveItsOwnRule) {
  const int r = world_rank(), n_ranks = world_size();
  const size_t n = 2000;
  CommGuard comm("compressor=none;algorithm=allgather");
  ASSERT_EQ(gw_layer_set_robust(comm, "a", "median"), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(gw_layer_set_robust(comm, "b", "median:x=1"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(gw_layer_set_robust(comm, "b", nullptr), GW_ERR_INVALID_ARGUMENT);
  // One bucket: layer a [0, n) by the median, layer b [n, 2n) by the running sum.
  std::vector<float> in = make_input(r, 2 * n, 6), out(2 * n), plain;
  const char* names[] = {"a", "b"};
  const size_t offsets[] = {0, n}, counts[] = {n, n};
  ASSERT_EQ(gw_allreduce_multi(comm, 2, names, offsets, counts, in.data(), out.data(), GW_FLOAT32, GW_AVG, nullptr),
            GW_SUCCESS)
      << gw_last_error();
  std::vector<float> med = median_of_inputs(n_ranks, 2 * n, 6);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], med[i]) << i;
  CommGuard sum("compressor=none;algorithm=allgather");
  ASSERT_EQ(reduce(sum, in, plain), GW_SUCCESS);
  for (size_t i = n; i < 2 * n; ++i) ASSERT_EQ(out[i], plain[i]) << i;
  // "" follows the communicator's rule again (none): layer a is the running sum too.
  ASSERT_EQ(gw_layer_set_robust(comm, "a", ""), GW_SUCCESS);
  ASSERT_EQ(gw_allreduce_multi(comm, 2, names, offsets, counts, in.data(), out.data(), GW_FLOAT32, GW_AVG, nullptr),
            GW_SUCCESS);
  EXPECT_EQ(out, plain);
}

TEST(Robust, TheAttackHarnessSendsEachAttackVectorInsteadOfTheInput) {
  const int r = world_rank(), n_ranks = world_size();
  const size_t n = 100003;
  const int attacker = n_ranks - 1;
  std::vector<float> raw;  // every rank's raw input, rank-major
  for (int q = 0; q < n_ranks; ++q) {
    std::vector<float> v = make_input(q, n, 60);
    raw.insert(raw.end(), v.begin(), v.end());
  }
  for (const char* kind : {"signflip:scale=2", "alie", "ipm:eps=0.5", "mimic"}) {
    const std::string spec = std::string(kind) + (std::string(kind).find(':') == std::string::npos ? ":" : ",") +
                             "ranks=" + std::to_string(attacker);
    CommGuard comm("compressor=none;robust=mean;attack=" + spec);
    std::vector<float> out;
    ASSERT_EQ(reduce(comm, make_input(r, n, 60), out), GW_SUCCESS) << spec << ": " << gw_last_error();
    ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n)) << spec;
    // The replay: the attacker's row from the definition, then the mean rule.
    std::vector<float> rows = raw;
    gw::Attack::make(spec, n_ranks)->apply(rows.data() + static_cast<size_t>(attacker) * n, n, raw.data(), 0);
    std::vector<const float*> ptrs;
    std::vector<int> ranks = all_ranks_list(), removed;
    for (int q = 0; q < n_ranks; ++q) ptrs.push_back(rows.data() + static_cast<size_t>(q) * n);
    gw::RuleState st;
    EXPECT_EQ(out, combine_rows(*gw::make_peer_rule("mean"), ptrs, ranks, n, 0, st, removed)) << spec;
    // The omniscient kinds' view of the raw inputs is the harness's traffic: not in the statistics.
    gw_stats total, layer;
    ASSERT_EQ(gw_comm_stats(comm, &total), GW_SUCCESS);
    ASSERT_EQ(gw_layer_stats(comm, "w", &layer), GW_SUCCESS);
    EXPECT_EQ(total.bytes_sent, layer.bytes_sent) << spec;
  }
  // Device buffers and other dtypes are refused, not attacked silently wrong.
  CommGuard comm("compressor=none;attack=signflip");
  std::vector<uint16_t> half(1000), half_out(1000);
  gw_status s = gw_allreduce(comm, "h", half.data(), half_out.data(), half.size(), GW_FLOAT16, GW_AVG, nullptr);
  EXPECT_EQ(s, GW_ERR_UNSUPPORTED) << gw_last_error();
}

TEST(Robust, CodecsThatSendNoOwnVectorAreRefusedOnEveryRank) {
  // lattice (a round scheme) decodes against the receiver's own vector:
  // the rules take every rank's vector decoded on its own.
  CommGuard comm("compressor=lattice:bits=4;robust=median");
  std::vector<float> out;
  gw_status s = reduce(comm, make_input(world_rank(), 100000, 1), out);
  EXPECT_EQ(s, GW_ERR_UNSUPPORTED) << gw_last_error();
  EXPECT_NE(std::string(gw_last_error()).find("robust"), std::string::npos) << gw_last_error();
  ASSERT_TRUE(all_ranks(s == GW_ERR_UNSUPPORTED));
}

TEST(Robust, RanksThatDisagreeOnARuleParameterAllGetMismatch) {
  const int r = world_rank();
  CommGuard comm(std::string("compressor=none;robust=cc:tau=") + (r == 0 ? "1" : "2"));
  std::vector<float> out;
  gw_status s = reduce(comm, make_input(r, 5000, 1), out);
  EXPECT_EQ(s, GW_ERR_MISMATCH) << gw_last_error();
  ASSERT_TRUE(all_ranks(s == GW_ERR_MISMATCH));
  // The per-layer form too, and the next call (everyone's state reset) agrees again.
  CommGuard layered("compressor=none");
  ASSERT_EQ(gw_layer_set_robust(layered, "w", r == 0 ? "median" : "trimmed:b=0,bucket=1"),
            r == 0 ? GW_SUCCESS : GW_ERR_INVALID_ARGUMENT);
  if (r != 0) ASSERT_EQ(gw_layer_set_robust(layered, "w", "mean"), GW_SUCCESS);
  s = reduce(layered, make_input(r, 5000, 1), out);
  ASSERT_TRUE(all_ranks(s == GW_ERR_MISMATCH)) << gw_last_error();
}

}  // namespace
}  // namespace gwtest
