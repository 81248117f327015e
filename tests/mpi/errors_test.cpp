// Bad input becomes a clear error, on every rank, with no hang: bad arguments,
// ranks that disagree (count, spec, dtype, op, layer), payloads corrupted or
// truncated in transit (injected by a transport wrapper), NaN/Inf inputs.
#include <memory>

#include "src/comm/communicator.h"
#include "tests/mpi/mpi_test_util.h"
#include "transports/mpi/mpi_transport.h"
#include "tests/mpi/tampering_transport.h"

using namespace gwtest;

namespace {

TEST(BadArguments, AreRejectedLocallyWithTheCause) {
  CommGuard comm("compressor=none");
  float x[4] = {1, 2, 3, 4}, y[4];
  EXPECT_EQ(gw_allreduce(nullptr, "l", x, y, 4, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "comm is NULL"));
  EXPECT_EQ(gw_allreduce(comm, nullptr, x, y, 4, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(gw_allreduce(comm, "l", nullptr, y, 4, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "send buffer is NULL"));
  EXPECT_EQ(gw_allreduce(comm, "l", x, nullptr, 4, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(gw_allreduce(comm, "l", x, y, 4, static_cast<gw_dtype>(9), GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "unknown dtype 9"));
  EXPECT_EQ(gw_allreduce(comm, "l", x, y, 4, GW_FLOAT32, static_cast<gw_op>(-1), nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "unknown op"));
  EXPECT_EQ(gw_allreduce(comm, "l", x, y, SIZE_MAX, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "overflows"));
  EXPECT_EQ(gw_allgather(comm, "l", x, y, SIZE_MAX / 3, GW_FLOAT32, nullptr), GW_ERR_INVALID_ARGUMENT);
  // An offset above SIZE_MAX / 4 used to wrap the bounds check (writes before the buffer).
  {
    const char* names[] = {"l", "m"};
    size_t offsets[] = {0, SIZE_MAX / 4 + 16}, counts[] = {2, 2};
    EXPECT_EQ(gw_allreduce_multi(comm, 2, names, offsets, counts, x, y, GW_FLOAT32, GW_SUM, nullptr),
              GW_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(gw_last_error(), "overflows")) << gw_last_error();
    size_t far[] = {SIZE_MAX - 1};
    EXPECT_EQ(gw_allreduce_multi(comm, 1, names, far, counts, x, y, GW_FLOAT32, GW_SUM, nullptr),
              GW_ERR_INVALID_ARGUMENT);
  }
  EXPECT_EQ(gw_layer_set_spec(comm, "l", "maxmin:bits=4,buckit=3"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "'buckit'")) << gw_last_error();
  EXPECT_EQ(gw_layer_set_spec(comm, "l", "maxmin:bits=12"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "'bits'")) << gw_last_error();
  EXPECT_EQ(gw_layer_stats(comm, "never-used", nullptr), GW_ERR_INVALID_ARGUMENT);
  gw_comm_t bad = nullptr;
  EXPECT_EQ(gw_comm_create_mpi(&bad, MPI_COMM_WORLD, "compressor=nosuch"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "unknown compressor 'nosuch'")) << gw_last_error();
  EXPECT_EQ(bad, nullptr);
  EXPECT_EQ(gw_comm_create_mpi(&bad, MPI_COMM_WORLD, "timeout=soon"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(gw_last_error(), "'timeout'")) << gw_last_error();
  // After all that, the communicator still works: nothing was sent.
  EXPECT_EQ(gw_allreduce(comm, "l", x, y, 4, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(y[0], world_size() * 1.0f);
}

// Every rank calls with its own arguments; all must fail with `want` and the
// message must name the odd rank (the last one) — then the comm still works.
void expect_mismatch(gw_comm_t comm, size_t count, size_t odd_count, gw_dtype dtype, gw_dtype odd_dtype, gw_op op,
                     gw_op odd_op, const char* layer, const char* odd_layer, const char* field) {
  const int r = world_rank(), last = world_size() - 1;
  const bool odd = r == last;
  size_t c = odd ? odd_count : count;
  std::vector<float> send(std::max<size_t>(c, 1) * 2, 1.0f), recv(send.size());
  gw_status s = gw_allreduce(comm, odd ? odd_layer : layer, send.data(), recv.data(), c, odd ? odd_dtype : dtype,
                             odd ? odd_op : op, nullptr);
  std::string msg = gw_last_error();
  EXPECT_EQ(s, GW_ERR_MISMATCH) << msg;
  EXPECT_TRUE(contains(msg, field)) << msg;
  if (!odd) EXPECT_TRUE(contains(msg, "rank " + std::to_string(last))) << msg;
  // Agreement again: the next call on every rank succeeds.
  std::vector<float> a(10, 1.0f), b(10);
  EXPECT_EQ(gw_allreduce(comm, "after", a.data(), b.data(), 10, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
}

class Mismatch : public testing::TestWithParam<const char*> {};

TEST_P(Mismatch, CountSpecDtypeOpLayerAreNamed) {
  CommGuard comm(std::string("compressor=maxmin:bits=4;chunk_bytes=64K;algorithm=") + GetParam());
  expect_mismatch(comm, 1000, 1001, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "a", "a", "element count");
  expect_mismatch(comm, 300000, 10, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "a", "a", "element count");
  expect_mismatch(comm, 10, 300000, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "a", "a", "element count");
  expect_mismatch(comm, 0, 5, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "a", "a", "element count");
  expect_mismatch(comm, 100, 100, GW_FLOAT32, GW_FLOAT16, GW_SUM, GW_SUM, "a", "a", "dtype");
  expect_mismatch(comm, 100, 100, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_AVG, "a", "a", "reduction op");
  expect_mismatch(comm, 100, 100, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "a", "b", "layer names");
  // Different spec for the same layer on one rank.
  const bool odd = world_rank() == world_size() - 1;
  ASSERT_EQ(gw_layer_set_spec(comm, "s", odd ? "maxmin:bits=8" : "maxmin:bits=4"), GW_SUCCESS);
  expect_mismatch(comm, 5000, 5000, GW_FLOAT32, GW_FLOAT32, GW_SUM, GW_SUM, "s", "s", "compressor spec");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Mismatch, testing::Values("allgather", "sra"));

TEST(MismatchConfig, DifferentChecksumSettingIsNamed) {
  const bool odd = world_rank() == world_size() - 1;
  CommGuard comm(odd ? "checksum=0" : "checksum=1");
  std::vector<float> a(100, 1.0f), b(100);
  EXPECT_EQ(gw_allreduce(comm, "c", a.data(), b.data(), 100, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_MISMATCH);
  EXPECT_TRUE(contains(gw_last_error(), "checksum")) << gw_last_error();
}

class Corruption : public testing::TestWithParam<std::tuple<TamperingTransport::Mode, const char*>> {};

// The victim names the sender. No rank keeps a result another knows is bad:
// where the damage hit an exchange after which messages still flow, every rank
// fails this call (the abort protocol) and the communicator lives on; where it
// hit the last exchange (one round of allgather), the victim abandons the call,
// every other rank fails this call or its next one, and the comm is broken.
TEST_P(Corruption, VictimGetsCorruptNamingSenderNobodyKeepsABadResult) {
  const int r = world_rank(), victim = world_size() - 1;
  const std::string algo = std::get<1>(GetParam());
  for (size_t count : {size_t(1000), size_t(300000)}) {  // one round, then many
    TamperingTransport* t = nullptr;
    std::string cfg = "timeout=60;compressor=maxmin:bits=4;chunk_bytes=64K;algorithm=" + algo;
    gw_comm_t comm = tampering_comm(&t, std::get<0>(GetParam()), cfg.c_str());
    if (r == victim) t->remaining = 1;
    std::vector<float> send = make_input(r, count), recv(count);
    gw_status s = gw_allreduce(comm, "c", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
    std::string msg = gw_last_error();
    if (r == victim) {
      EXPECT_EQ(s, GW_ERR_CORRUPT) << msg;
      EXPECT_TRUE(contains(msg, "rank 0")) << msg;
    } else {
      EXPECT_TRUE(s == GW_SUCCESS || s == GW_ERR_REMOTE) << msg;
      if (s == GW_ERR_REMOTE) EXPECT_TRUE(contains(msg, "rank " + std::to_string(victim))) << msg;
    }
    t->remaining = 0;
    gw_status next = gw_allreduce(comm, "c2", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
    msg = gw_last_error();
    const bool last_exchange_hit = algo == "allgather" && count == 1000;
    if (last_exchange_hit) {
      // Every rank got an error from the damaged call or from this one, and none works on.
      EXPECT_TRUE(s != GW_SUCCESS || next == GW_ERR_REMOTE) << msg;
      EXPECT_NE(next, GW_SUCCESS) << msg;
      EXPECT_EQ(gw_comm_get_state(comm), GW_ERR_COMM_BROKEN);
    } else {
      EXPECT_EQ(next, GW_SUCCESS) << msg;  // the comm lives on
      EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float)));
    }
    gw_comm_destroy(comm);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, Corruption,
                         testing::Combine(testing::Values(TamperingTransport::kFlipPayloadByte,
                                                          TamperingTransport::kTruncate),
                                          testing::Values("allgather", "sra")));

// ---- NaN / Inf policy ----
TEST(Nonfinite, ErrorPolicyNamesTheRankOnEveryRank) {
  CommGuard comm("compressor=maxmin:bits=4");
  const int odd = world_size() - 1;
  for (float bad : {NAN, INFINITY}) {
    std::vector<float> send = make_input(world_rank(), 5000), recv(5000);
    if (world_rank() == odd) send[1234] = bad;
    EXPECT_EQ(gw_allreduce(comm, "n", send.data(), recv.data(), 5000, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_NONFINITE);
    EXPECT_TRUE(contains(gw_last_error(), "rank(s) " + std::to_string(odd))) << gw_last_error();
  }
}

TEST(Nonfinite, PropagatePolicyPoisonsOnlyTheBucket) {
  CommGuard comm("compressor=maxmin:bits=4,bucket=512;nonfinite=propagate;algorithm=allgather");
  std::vector<float> send = make_input(world_rank(), 5000), recv(5000);
  if (world_rank() == 0) send[1234] = NAN;
  ASSERT_EQ(gw_allreduce(comm, "p", send.data(), recv.data(), 5000, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  for (size_t i = 0; i < 5000; ++i) {
    bool in_bucket = i / 512 == 1234 / 512;
    ASSERT_EQ(std::isnan(recv[i]), in_bucket) << i;
  }
  EXPECT_TRUE(same_on_all_ranks(recv.data(), recv.size() * sizeof(float)));
}

}  // namespace
