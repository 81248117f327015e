// The small-message path (fallback_bytes): calls at or below the threshold are
// sent uncompressed in one exchange (the raw values with the wire header), so
// their results are exact fp32 sums in rank order, bit-identical on every
// rank, and ranks that disagree — even across the threshold — get
// GW_ERR_MISMATCH on every rank, with the communicator usable after.
#include <cmath>

#include "tests/mpi/mpi_device_util.h"
#include "tests/mpi/mpi_test_util.h"

using namespace gwtest;

namespace {

const char* kSmall = "fallback_bytes=64K;compressor=maxmin:bits=2,bucket=64";

TEST(Fallback, SmallAllreduceIsTheExactRankOrderSum) {
  CommGuard comm(kSmall);
  const int n = world_size(), r = world_rank();
  for (size_t count : {size_t(0), size_t(1), size_t(1000), size_t(16384)}) {  // 16384 floats = 64 KiB
    std::vector<float> send = make_input(r, count), sum(count, -1.0f), avg(count, -1.0f);
    ASSERT_EQ(gw_allreduce(comm, "small", send.data(), sum.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
        << gw_last_error();
    // Exactly the fp32 sum in rank order (x0 + x1 + ... left to right) on
    // every rank; a 2-bit quantization (this spec's compressed path) would not be.
    size_t wrong_sum = 0;
    for (size_t i = 0; i < count; ++i) {
      float want = input_value(0, i);
      for (int q = 1; q < n; ++q) want += input_value(q, i);
      wrong_sum += sum[i] != want;
    }
    EXPECT_EQ(wrong_sum, 0u) << "count " << count;
    ASSERT_EQ(gw_allreduce(comm, "small", send.data(), avg.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
        << gw_last_error();
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) wrong += avg[i] != sum[i] * (1.0f / n);
    EXPECT_EQ(wrong, 0u) << "count " << count;
    EXPECT_TRUE(same_on_all_ranks(avg.data(), count * sizeof(float)));
  }
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "small", &st), GW_SUCCESS);
  EXPECT_EQ(st.calls, 8u);
  EXPECT_GT(st.bytes_sent, 0u);
}

TEST(Fallback, InPlaceAndHalfPrecision) {
  CommGuard comm(kSmall);
  const int n = world_size(), r = world_rank();
  std::vector<float> x(777, static_cast<float>(r + 1));
  ASSERT_EQ(gw_allreduce(comm, "inplace", x.data(), x.data(), x.size(), GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  for (float v : x) ASSERT_EQ(v, n * (n + 1) / 2.0f);
  std::vector<uint16_t> h(100, 0x3c00), out(100);  // fp16 1.0
  ASSERT_EQ(gw_allreduce(comm, "half", h.data(), out.data(), h.size(), GW_FLOAT16, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  for (uint16_t v : out) ASSERT_EQ(v, 0x3c00);
}

TEST(Fallback, MultiLayerLeavesGapsAlone) {
  CommGuard comm(kSmall);
  const int n = world_size();
  const char* names[] = {"a", "b", "c"};
  size_t offsets[] = {0, 10, 30}, counts[] = {10, 15, 5};  // b and c leave gaps
  std::vector<float> send(40, 1.0f), recv(40, -7.0f);
  ASSERT_EQ(gw_allreduce_multi(comm, 3, names, offsets, counts, send.data(), recv.data(), GW_FLOAT32, GW_SUM,
                               nullptr),
            GW_SUCCESS)
      << gw_last_error();
  for (size_t i = 0; i < 40; ++i) {
    bool covered = i < 25 || (i >= 30 && i < 35);
    ASSERT_EQ(recv[i], covered ? static_cast<float>(n) : -7.0f) << i;
  }
}

TEST(Fallback, SmallAllgatherEqualsMpiAllgather) {
  CommGuard comm(kSmall);
  const int n = world_size(), r = world_rank();
  std::vector<float> send = make_input(r, 333), got(333 * n), want(333 * n);
  MPI_Allgather(send.data(), 333, MPI_FLOAT, want.data(), 333, MPI_FLOAT, MPI_COMM_WORLD);
  ASSERT_EQ(gw_allgather(comm, "gather", send.data(), got.data(), 333, GW_FLOAT32, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_EQ(got, want);
}

TEST(Fallback, ZeroThresholdCompresses) {
  CommGuard comm("fallback_bytes=0;compressor=maxmin:bits=2,bucket=64");
  const int r = world_rank();
  std::vector<float> send = make_input(r, 4096), got(4096), want(4096);
  MPI_Allreduce(send.data(), want.data(), 4096, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  ASSERT_EQ(gw_allreduce(comm, "c", send.data(), got.data(), 4096, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_NE(got, want);  // quantized to 2 bits: it cannot equal the exact sum
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "c", &st), GW_SUCCESS);
  EXPECT_LT(st.bytes_sent, static_cast<uint64_t>(world_size() - 1) * 4096 * 4 / 4);
}

// Returns the status every rank got, after checking they all got the same.
gw_status call_with_count(gw_comm_t comm, size_t count) {
  std::vector<float> send(count, 1.0f), recv(count);
  gw_status s = gw_allreduce(comm, "mismatch", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
  int mine = s, lo = 0, hi = 0;
  MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << "ranks got different statuses";
  return s;
}

TEST(Fallback, MismatchedCountsBelowThresholdAreAnErrorNotAHang) {
  CommGuard comm(kSmall);
  const int r = world_rank();
  EXPECT_EQ(call_with_count(comm, r == 0 ? 100 : 200), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("element count"), std::string::npos) << gw_last_error();
  EXPECT_EQ(call_with_count(comm, 100), GW_SUCCESS) << gw_last_error();  // still usable
}

TEST(Fallback, MismatchAcrossTheThresholdIsAnErrorNotAHang) {
  // Rank 0 takes the plain path (400 bytes), the others the compressed one (4 MiB):
  // they meet in exchange 0 and all see the disagreement.
  CommGuard comm(kSmall);
  const int r = world_rank();
  EXPECT_EQ(call_with_count(comm, r == 0 ? 100 : (1u << 20)), GW_ERR_MISMATCH);
  EXPECT_EQ(call_with_count(comm, 1u << 20), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(call_with_count(comm, 100), GW_SUCCESS) << gw_last_error();
}

TEST(Fallback, LateLoneChangeIsAMismatchWhateverPlanCheck) {
  // The layer's plan was agreed on, then rank 0 alone changes its count.
  // Every small message carries the plan header, so this is GW_ERR_MISMATCH
  // on every rank (it used to be a timeout with plan_check=changes), and the
  // communicator lives on.
  for (const char* check : {"changes", "every"}) {
    CommGuard comm(std::string(kSmall) + ";timeout=10;plan_check=" + check);
    EXPECT_EQ(call_with_count(comm, 100), GW_SUCCESS) << gw_last_error();
    EXPECT_EQ(call_with_count(comm, world_rank() == 0 ? 50 : 100), GW_ERR_MISMATCH);
    EXPECT_EQ(call_with_count(comm, 100), GW_SUCCESS) << gw_last_error();
  }
}

TEST(Fallback, MismatchedSpecsAreAnError) {
  CommGuard comm(world_rank() == 0 ? "fallback_bytes=64K;compressor=none" : kSmall);
  EXPECT_EQ(call_with_count(comm, 100), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("compressor spec"), std::string::npos) << gw_last_error();
}

#if GW_HAVE_CUDA
TEST(Fallback, DeviceBuffersGiveTheHostResult) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  CommGuard on_host(kSmall), on_device(kSmall);
  const size_t count = 5000;
  std::vector<float> send = make_input(world_rank(), count), want(count);
  ASSERT_EQ(gw_allreduce(on_host, "d", send.data(), want.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  DeviceBuffer d_send(count), d_recv(count);
  d_send.put(send);
  ASSERT_EQ(gw_allreduce(on_device, "d", d_send.p, d_recv.p, count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_EQ(d_recv.get(count), want);
}
#endif

}  // namespace
