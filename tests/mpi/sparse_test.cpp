// topk / randomk and error feedback through real MPI ranks: results equal a
// reference every rank computes from every rank's inputs, bit-identical on every
// rank; nothing lost over many steps; EF21 reaches the exact mean; state saved,
// restored in a fresh communicator and continued is identical to an
// uninterrupted run; spec and count changes reset state, counted; a peer's
// damaged indices are GW_ERR_CORRUPT naming it.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <memory>

#include "tests/mpi/mpi_test_util.h"
#include "src/spec/registry.h"
#include "tests/mpi/tampering_transport.h"
#include "compressors/topk/topk.h"

namespace gwtest {
namespace {

std::vector<float> step_input(int r, size_t n, int step) { return make_input(r, n, 1000u + static_cast<uint32_t>(step)); }

gw_status reduce(gw_comm_t c, const char* layer, const std::vector<float>& send, std::vector<float>& recv,
                 gw_op op = GW_SUM) {
  recv.resize(send.size());
  return gw_allreduce(c, layer, send.data(), recv.data(), send.size(), GW_FLOAT32, op, nullptr);
}

// Rank r's residual after `steps` topk+EF steps, and what it sent in each,
// replayed locally with the codec (the same keys are not needed: topk is
// deterministic), so each rank knows every rank's payloads.
struct Replay {
  std::vector<std::vector<float>> e;                  // per rank
  std::vector<std::vector<std::vector<float>>> sent;  // [rank][step]
};
Replay replay_topk(const gw::Compressor& c, int nranks, size_t n, int steps) {
  Replay rp;
  rp.e.assign(nranks, std::vector<float>(n, 0.0f));
  rp.sent.assign(nranks, {});
  std::vector<uint8_t> payload(c.encoded_bytes(n));
  for (int r = 0; r < nranks; ++r) {
    for (int t = 0; t < steps; ++t) {
      std::vector<float> g = step_input(r, n, t), d(n);
      bool nf = false;
      size_t bytes = c.encode_feedback(g.data(), rp.e[r].data(), n, gw::Feedback::kResidual, payload.data(), 0, &nf);
      c.decode(payload.data(), bytes, n, d.data());
      rp.sent[r].push_back(d);
    }
  }
  return rp;
}

TEST(Topk, EveryStepEqualsTheReferenceOnEveryRankAndNothingIsLost) {
  const int r = world_rank(), n_ranks = world_size();
  const size_t n = 20011;  // prime
  const int steps = 12;
  for (const char* spec : {"topk:density=0.01", "topk:density=0.01,select=sample", "topk:density=0.2,index=raw"}) {
    CommGuard comm(std::string("compressor=") + spec);
    auto codec = gw::make_compressor(spec);
    Replay rp = replay_topk(*codec, n_ranks, n, steps);
    std::vector<double> total_out(n, 0.0), total_in(n, 0.0);
    for (int t = 0; t < steps; ++t) {
      std::vector<float> out;
      ASSERT_EQ(reduce(comm, "w", step_input(r, n, t), out), GW_SUCCESS) << gw_last_error();
      // Reference: decode_add of every rank's payload in rank order (as the collective sums).
      std::vector<float> want(n, 0.0f);
      for (int q = 0; q < n_ranks; ++q)
        for (size_t i = 0; i < n; ++i) want[i] += rp.sent[q][t][i];
      ASSERT_EQ(out, want) << spec << " step " << t;
      ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
      for (size_t i = 0; i < n; ++i) total_out[i] += out[i];
      for (int q = 0; q < n_ranks; ++q) {
        std::vector<float> g = step_input(q, n, t);
        for (size_t i = 0; i < n; ++i) total_in[i] += g[i];
      }
    }
    // Sum of what was sent + every rank's residual == sum of every input.
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      double e = 0;
      for (int q = 0; q < n_ranks; ++q) e += rp.e[q][i];
      worst = std::max(worst, std::fabs(total_out[i] + e - total_in[i]));
    }
    EXPECT_LT(worst, 1e-3) << spec;
    gw_stats st;
    ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
    EXPECT_EQ(st.calls, static_cast<uint64_t>(steps));
    EXPECT_EQ(st.state_bytes, 4 * n);  // one residual vector
    EXPECT_EQ(st.state_resets, 0u);
    // 1%: one payload (12 + varint indices + 4k) is under 1/50 of the input
    // (each rank sends it to n - 1 peers).
    if (std::string(spec).find("0.01") != std::string::npos && n_ranks > 1)
      EXPECT_GT(static_cast<double>(st.bytes_input) * (n_ranks - 1) / st.bytes_sent, 50.0) << spec;
  }
}

TEST(Topk, RanksDisagreeingOnDensityIsAMismatch) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  CommGuard comm(world_rank() == 0 ? "compressor=topk:density=0.01" : "compressor=topk:density=0.02");
  std::vector<float> out;
  gw_status s = reduce(comm, "w", make_input(world_rank(), 5000), out);
  EXPECT_EQ(s, GW_ERR_MISMATCH) << gw_last_error();
  EXPECT_TRUE(contains(gw_last_error(), "topk:density=")) << gw_last_error();
}

TEST(Randomk, SharedPositionsSumLikeDenseAndAreUnbiasedOverSteps) {
  const int r = world_rank(), n_ranks = world_size();
  const size_t n = 4001;
  CommGuard comm("compressor=randomk:density=0.25");
  std::vector<double> mean(n, 0.0);
  const int steps = 400;
  const std::vector<double> want = exact_mean(n_ranks, n);
  std::vector<float> in = make_input(r, n), out;
  for (int t = 0; t < steps; ++t) {
    ASSERT_EQ(reduce(comm, "rk", in, out, GW_AVG), GW_SUCCESS) << gw_last_error();
    ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) nonzero += out[i] != 0.0f;
    ASSERT_LE(nonzero, gw::topk::k_for(n, 0.25));  // every rank kept the same positions
    for (size_t i = 0; i < n; ++i) mean[i] += out[i] / steps;
  }
  // Each position kept with probability 1/4, weighted 4: sd of the mean over
  // `steps` is |m| sqrt(3 / steps).
  int outside = 0;
  for (size_t i = 0; i < n; ++i) outside += std::fabs(mean[i] - want[i]) > 5 * std::fabs(want[i]) * std::sqrt(3.0 / steps) + 1e-6;
  EXPECT_EQ(outside, 0);
}

// EF21 with topk on a fixed gradient per rank: g_i reaches grad_i once every
// position has been sent, after which the result is the exact mean.
TEST(Ef21, ReachesTheExactMeanOfAFixedGradient) {
  const int r = world_rank();
  const size_t n = 1000;
  CommGuard comm("compressor=topk:density=0.1,ef=ef21");
  const std::vector<float> g = make_input(r, n);
  const std::vector<double> want = exact_mean(world_size(), n);
  std::vector<float> out;
  double first_err = 0, last_err = 0;
  for (int t = 0; t < 12; ++t) {
    ASSERT_EQ(reduce(comm, "e21", g, out, GW_AVG), GW_SUCCESS) << gw_last_error();
    ASSERT_TRUE(same_on_all_ranks(out.data(), 4 * n));
    (t == 0 ? first_err : last_err) = rel_error(out, want);
  }
  EXPECT_GT(first_err, 0.3);
  EXPECT_LT(last_err, 1e-6);
}

TEST(Ef21, AllgatherIsRefused) {
  CommGuard comm("compressor=topk:ef=ef21");
  std::vector<float> in(5000, 1.0f), out(5000 * world_size());
  EXPECT_EQ(gw_allgather(comm, "ag", in.data(), out.data(), in.size(), GW_FLOAT32, nullptr), GW_ERR_INVALID_USAGE);
  EXPECT_TRUE(contains(gw_last_error(), "ef21")) << gw_last_error();
}

// Save at step t, restore into a fresh communicator, continue: bit-identical
// to the run that never stopped, for ef=1 (topk, maxmin) and ef21.
TEST(State, SaveRestoreContinueEqualsAnUninterruptedRun) {
  const int r = world_rank();
  const size_t n = 6007;
  for (const char* spec : {"topk:density=0.02", "maxmin:bits=2,ef=1", "topk:density=0.05,ef=ef21"}) {
    const std::string cfg = std::string("compressor=") + spec;
    std::vector<std::vector<float>> straight;
    {
      CommGuard comm(cfg);
      for (int t = 0; t < 8; ++t) {
        std::vector<float> out;
        ASSERT_EQ(reduce(comm, "L", step_input(r, n, t), out), GW_SUCCESS) << gw_last_error();
        straight.push_back(out);
      }
    }
    std::vector<uint8_t> blob;
    {
      CommGuard comm(cfg);
      for (int t = 0; t < 5; ++t) {
        std::vector<float> out;
        ASSERT_EQ(reduce(comm, "L", step_input(r, n, t), out), GW_SUCCESS) << gw_last_error();
      }
      blob = save_layer_state(comm, "L");
    }
    CommGuard resumed(cfg);
    ASSERT_EQ(gw_layer_load_state(resumed, "L", blob.data(), blob.size()), GW_SUCCESS) << gw_last_error();
    for (int t = 5; t < 8; ++t) {
      std::vector<float> out;
      ASSERT_EQ(reduce(resumed, "L", step_input(r, n, t), out), GW_SUCCESS) << gw_last_error();
      ASSERT_EQ(out, straight[t]) << spec << " step " << t;
    }
    gw_stats st;
    ASSERT_EQ(gw_layer_stats(resumed, "L", &st), GW_SUCCESS);
    EXPECT_EQ(st.calls, 8u);
    EXPECT_EQ(st.state_resets, 0u);
  }
}

TEST(State, BadRecordsAreNamedErrors) {
  const size_t n = 3000;
  CommGuard comm("compressor=topk:density=0.02");
  std::vector<float> out;
  ASSERT_EQ(reduce(comm, "L", make_input(world_rank(), n), out), GW_SUCCESS) << gw_last_error();
  const std::vector<uint8_t> blob = save_layer_state(comm, "L");
  auto status = [&](const char* layer, std::vector<uint8_t> b) {
    return gw_layer_load_state(comm, layer, b.data(), b.size());
  };
  {
    auto b = blob;
    b[b.size() / 2] ^= 1;
    EXPECT_EQ(status("L", b), GW_ERR_CORRUPT);
    EXPECT_TRUE(contains(gw_last_error(), "checksum")) << gw_last_error();
  }
  {
    auto b = blob;
    b[4] = 1;  // version 1
    EXPECT_EQ(status("L", b), GW_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(gw_last_error(), "version")) << gw_last_error();
  }
  {
    auto b = blob;
    b.resize(b.size() - 9);
    EXPECT_NE(status("L", b), GW_SUCCESS);
  }
  EXPECT_EQ(status("other", blob), GW_ERR_CORRUPT);
  EXPECT_TRUE(contains(gw_last_error(), "another layer")) << gw_last_error();
  // A layer whose spec changed since the save: the state is not for it.
  ASSERT_EQ(gw_layer_set_spec(comm, "L", "topk:density=0.5"), GW_SUCCESS);
  EXPECT_EQ(status("L", blob), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "spec")) << gw_last_error();
}

TEST(State, SpecOrCountChangesResetStateAndAreCounted) {
  const size_t n = 4000;
  CommGuard comm("compressor=topk:density=0.01");
  std::vector<float> out;
  ASSERT_EQ(reduce(comm, "L", make_input(world_rank(), n), out), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(reduce(comm, "L", make_input(world_rank(), n + 1), out), GW_SUCCESS) << gw_last_error();  // count
  ASSERT_EQ(gw_layer_set_spec(comm, "L", "topk:density=0.02"), GW_SUCCESS);
  ASSERT_EQ(reduce(comm, "L", make_input(world_rank(), n + 1), out), GW_SUCCESS) << gw_last_error();  // spec
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "L", &st), GW_SUCCESS);
  EXPECT_EQ(st.state_resets, 2u);
}

// With the checksum off, the decoder is the last line: a peer's indices out of
// range (as a byte flip near the end of the index section makes them) are
// GW_ERR_CORRUPT naming the sender, and nothing is written out of bounds.
TEST(Topk, DamagedIndicesAreCorruptNamingTheSender) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  const int r = world_rank(), victim = world_size() - 1;
  TamperingTransport* t = nullptr;
  gw_comm_t comm =
      tampering_comm(&t, TamperingTransport::kFlipByteAt, "timeout=30;checksum=0;compressor=topk:density=0.05,index=raw");
  // Byte 2 of the first index: it grows by 4 Mi, far past n.
  t->flip_at = sizeof(gw::MessageHeader) + gw::kTopkHeaderBytes + 2;
  const size_t n = 3000;
  std::vector<float> in = make_input(r, n), out(n + 16, 7.0f);
  if (r == victim) t->remaining = 1;
  gw_status s = gw_allreduce(comm, "d", in.data(), out.data(), n, GW_FLOAT32, GW_SUM, nullptr);
  const std::string msg = gw_last_error();
  if (r == victim) {
    EXPECT_EQ(s, GW_ERR_CORRUPT) << msg;
    EXPECT_TRUE(contains(msg, "rank 0")) << msg;
    EXPECT_TRUE(contains(msg, "out of range")) << msg;
  }
  for (size_t i = n; i < n + 16; ++i) EXPECT_EQ(out[i], 7.0f);
  // The fault was in the call's last exchange: peers that completed it learn
  // of it from the victim's abandon notice, by the next call at the latest.
  s = gw_allreduce(comm, "d", in.data(), out.data(), n, GW_FLOAT32, GW_SUM, nullptr);
  EXPECT_NE(s, GW_SUCCESS) << "rank " << r << " carried on after the damaged call";
  gw_comm_destroy(comm);
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace gwtest
