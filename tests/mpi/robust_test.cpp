// The reducer that keeps every peer's decoded vector (config robust=), through
// real MPI ranks: the median against its definition, an outlier rank that
// moves the mean and not the median, compressed payloads, bit-identical
// results on every rank, large and small calls, and ranks that disagree on the
// rule (GW_ERR_MISMATCH on every rank, no hang).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>

#include "tests/mpi/mpi_test_util.h"
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

}  // namespace
}  // namespace gwtest
