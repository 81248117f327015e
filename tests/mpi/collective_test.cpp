// Compressed allreduce / allgather over real MPI ranks: exact results for
// "none", bounded error for lossy codecs, every rank bit-identical, counts from
// 0 to 64 Mi elements, both algorithms.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "tests/mpi/mpi_test_util.h"

using namespace gwtest;

namespace {

const char* kAlgos[] = {"allgather", "sra"};

// Counts that stress the splitting: empty, single, fewer than ranks, not
// divisible by the world size, several pipeline rounds (chunk_bytes=64K).
std::vector<size_t> edge_counts() {
  size_t n = static_cast<size_t>(world_size());
  return {0, 1, n - 1, n + 1, 1000, 64 * 1024 + 3, 300001};
}

class EveryAlgorithm : public testing::TestWithParam<const char*> {};

TEST_P(EveryAlgorithm, NoneSumIsExactOnIntegers) {
  // Small integers: every fp32 partial sum is exact, so the result must equal
  // the fp64 reference bit for bit, whatever the order of additions.
  CommGuard comm(std::string("algorithm=") + GetParam() + ";chunk_bytes=64K;compressor=none");
  const int n = world_size(), r = world_rank();
  for (size_t count : edge_counts()) {
    std::vector<float> send(count), recv(count, -1.0f);
    for (size_t i = 0; i < count; ++i) send[i] = static_cast<float>((i * 7 + r * 13) % 1000) - 500.0f;
    ASSERT_EQ(gw_allreduce(comm, "ints", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr),
              GW_SUCCESS)
        << gw_last_error();
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      double want = 0;
      for (int q = 0; q < n; ++q) want += static_cast<double>((i * 7 + q * 13) % 1000) - 500.0;
      wrong += recv[i] != static_cast<float>(want);
    }
    EXPECT_EQ(wrong, 0u) << "count " << count;
  }
}

TEST_P(EveryAlgorithm, NoneAverageMatchesFp64) {
  CommGuard comm(std::string("algorithm=") + GetParam() + ";chunk_bytes=64K;compressor=none");
  const int n = world_size(), r = world_rank();
  for (size_t count : edge_counts()) {
    std::vector<float> send = make_input(r, count), recv(count);
    ASSERT_EQ(gw_allreduce(comm, "avg", send.data(), recv.data(), count, GW_FLOAT32, GW_AVG, nullptr),
              GW_SUCCESS)
        << gw_last_error();
    std::vector<double> want = exact_mean(n, count);
    // fp32 summation of n terms: |error| <= (n+1) eps * sum_q |x_q| / n.
    size_t outside = 0;
    for (size_t i = 0; i < count; ++i) {
      double mag = 0;
      for (int q = 0; q < n; ++q) mag += std::fabs(input_value(q, i));
      outside += std::fabs(recv[i] - want[i]) > (n + 1) * 1.2e-7 * mag / n;
    }
    EXPECT_EQ(outside, 0u) << "count " << count;
    EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float))) << "count " << count;
  }
}

TEST_P(EveryAlgorithm, InPlaceEqualsOutOfPlace) {
  CommGuard comm(std::string("algorithm=") + GetParam() + ";chunk_bytes=64K;compressor=maxmin:bits=4");
  const size_t count = 200003;
  std::vector<float> a = make_input(world_rank(), count), out(count);
  std::vector<float> b = a;
  // Same layer step on a twin layer name gives a different RNG stream, so use
  // one communicator per run to replay the same step.
  CommGuard twin(std::string("algorithm=") + GetParam() + ";chunk_bytes=64K;compressor=maxmin:bits=4");
  ASSERT_EQ(gw_allreduce(comm, "x", a.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  ASSERT_EQ(gw_allreduce(twin, "x", b.data(), b.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  EXPECT_EQ(0, std::memcmp(out.data(), b.data(), count * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, EveryAlgorithm, testing::ValuesIn(kAlgos));

// ---- every compressor: bit-identical on all ranks, error within its bound ----
struct CodecCase {
  const char* spec;
  double rel_bound;  // on ||result - mean|| / ||mean|| for this data
};

class EveryCodec : public testing::TestWithParam<std::tuple<CodecCase, const char*>> {};

TEST_P(EveryCodec, BitIdenticalAndBounded) {
  const CodecCase c = std::get<0>(GetParam());
  const char* algo = std::get<1>(GetParam());
  CommGuard comm(std::string("algorithm=") + algo + ";chunk_bytes=256K;compressor=" + c.spec);
  const int n = world_size(), r = world_rank();
  for (size_t count : edge_counts()) {
    std::vector<float> send = make_input(r, count), recv(count);
    for (int step = 0; step < 2; ++step) {
      ASSERT_EQ(gw_allreduce(comm, "g", send.data(), recv.data(), count, GW_FLOAT32, GW_AVG, nullptr),
                GW_SUCCESS)
          << gw_last_error();
      EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float))) << c.spec << " count " << count;
      if (count >= 1000) {
        double err = rel_error(recv, exact_mean(n, count));
        EXPECT_LT(err, c.rel_bound) << c.spec << " " << algo << " count " << count;
      }
    }
  }
}

const CodecCase kCodecs[] = {
    {"none", 1e-6},           {"fp16", 2e-3},           {"bf16", 1.5e-2},
    {"maxmin:bits=8", 2e-2},  {"maxmin:bits=4", 0.3},   {"maxmin:bits=2,bucket=128", 1.5},
    {"maxmin:bits=1", 3.0},
};

INSTANTIATE_TEST_SUITE_P(Codecs, EveryCodec,
                         testing::Combine(testing::ValuesIn(kCodecs), testing::ValuesIn(kAlgos)));

// ---- maxmin: per-element error bound and unbiasedness over many calls ----
TEST(Maxmin, ElementErrorWithinBucketBound) {
  // One quantization per rank (allgather algorithm): |Q(x)-x| <= (max-min)/(2^b-1)
  // per element, so the mean's error is at most the mean of the ranks' steps.
  const int n = world_size();
  const int bits = 4;
  const size_t bucket = 512, count = 100000;
  CommGuard comm("algorithm=allgather;compressor=maxmin:bits=4,bucket=512");
  std::vector<float> send = make_input(world_rank(), count), recv(count);
  ASSERT_EQ(gw_allreduce(comm, "b", send.data(), recv.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  std::vector<double> want = exact_mean(n, count);
  size_t bad = 0;
  for (size_t b0 = 0; b0 < count; b0 += bucket) {
    size_t b1 = std::min(count, b0 + bucket);
    double step_sum = 0;
    for (int q = 0; q < n; ++q) {
      float lo = INFINITY, hi = -INFINITY;
      for (size_t i = b0; i < b1; ++i) {
        lo = std::min(lo, input_value(q, i));
        hi = std::max(hi, input_value(q, i));
      }
      step_sum += (static_cast<double>(hi) - lo) / ((1 << bits) - 1);
    }
    double bound = step_sum / n * (1 + 1e-5) + 1e-6;
    for (size_t i = b0; i < b1; ++i) bad += std::fabs(recv[i] - want[i]) > bound;
  }
  EXPECT_EQ(bad, 0u);
}

TEST(Maxmin, UnbiasedOverManyCalls) {
  // Each call draws fresh rounding noise (the layer's step keys the RNG); the
  // average over T calls converges to the exact mean at rate sigma/sqrt(T),
  // sigma <= step/2 per rank and element.
  const int n = world_size();
  const size_t count = 4096;
  const int T = 300;
  CommGuard comm("algorithm=allgather;compressor=maxmin:bits=2,bucket=64");
  std::vector<float> send = make_input(world_rank(), count), recv(count);
  std::vector<double> acc(count, 0.0);
  for (int t = 0; t < T; ++t) {
    ASSERT_EQ(gw_allreduce(comm, "u", send.data(), recv.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
    for (size_t i = 0; i < count; ++i) acc[i] += recv[i];
  }
  std::vector<double> want = exact_mean(n, count);
  // Largest per-rank step over the data bounds sigma: step/2 per rank -> the
  // mean over n ranks has sigma <= step/(2 sqrt(n)), the average over T calls
  // sigma/sqrt(T). Allow 5 sigma per element.
  double max_range = 0;
  for (int q = 0; q < n; ++q)
    for (size_t b0 = 0; b0 < count; b0 += 64) {
      float lo = INFINITY, hi = -INFINITY;
      for (size_t i = b0; i < b0 + 64; ++i) {
        lo = std::min(lo, input_value(q, i));
        hi = std::max(hi, input_value(q, i));
      }
      max_range = std::max(max_range, static_cast<double>(hi - lo));
    }
  const double sigma = max_range / 3.0 / 2.0 / std::sqrt(static_cast<double>(n)) / std::sqrt(static_cast<double>(T));
  size_t outside = 0;
  double mean_signed = 0;
  for (size_t i = 0; i < count; ++i) {
    double e = acc[i] / T - want[i];
    outside += std::fabs(e) > 5 * sigma;
    mean_signed += e;
  }
  EXPECT_EQ(outside, 0u);
  // The signed errors average out over elements too (no systematic bias).
  EXPECT_LT(std::fabs(mean_signed / count), 5 * sigma / std::sqrt(static_cast<double>(count)));
}

// ---- allgather ----
TEST(Allgather, NoneIsExactAndOrderedByRank) {
  CommGuard comm("compressor=none;chunk_bytes=64K");
  const int n = world_size();
  for (size_t count : edge_counts()) {
    std::vector<float> send = make_input(world_rank(), count), recv(count * n, -7.0f);
    ASSERT_EQ(gw_allgather(comm, "ag", send.data(), recv.data(), count, GW_FLOAT32, nullptr), GW_SUCCESS)
        << gw_last_error();
    size_t wrong = 0;
    for (int q = 0; q < n; ++q)
      for (size_t i = 0; i < count; ++i) wrong += recv[q * count + i] != input_value(q, i);
    EXPECT_EQ(wrong, 0u) << "count " << count;
  }
}

TEST(Allgather, CompressedSlotsAgreeAndAreBounded) {
  CommGuard comm("compressor=maxmin:bits=8;chunk_bytes=64K");
  const int n = world_size();
  const size_t count = 100001;
  std::vector<float> send = make_input(world_rank(), count), recv(count * n);
  ASSERT_EQ(gw_allgather(comm, "ag8", send.data(), recv.data(), count, GW_FLOAT32, nullptr), GW_SUCCESS);
  EXPECT_TRUE(same_on_all_ranks(recv.data(), recv.size() * sizeof(float)));
  double worst = 0;
  for (int q = 0; q < n; ++q)
    for (size_t i = 0; i < count; ++i) worst = std::max(worst, (double)std::fabs(recv[q * count + i] - input_value(q, i)));
  EXPECT_LT(worst, 0.02);  // range ~1.5 / 255 per step
}

// ---- fp16 / bf16 inputs ----
TEST(Dtypes, HalfInputsReduceCorrectly) {
  CommGuard comm("compressor=none");
  const int n = world_size();
  const size_t count = 5000;
  for (gw_dtype dt : {GW_FLOAT16, GW_BFLOAT16}) {
    std::vector<uint16_t> send(count), recv(count);
    // Small integers are exact in both formats, and so are their sums here.
    for (size_t i = 0; i < count; ++i) {
      float v = static_cast<float>(static_cast<int>(i % 17) - 8 + world_rank());
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      // fp16 of a small integer: exact conversion by hand.
      if (dt == GW_BFLOAT16) {
        send[i] = static_cast<uint16_t>(bits >> 16);
      } else {
        int e = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
        send[i] = v == 0.0f ? 0 : static_cast<uint16_t>(((bits >> 16) & 0x8000) | (e << 10) | ((bits >> 13) & 0x3ff));
      }
    }
    ASSERT_EQ(gw_allreduce(comm, dt == GW_FLOAT16 ? "h" : "b", send.data(), recv.data(), count, dt, GW_SUM, nullptr),
              GW_SUCCESS)
        << gw_last_error();
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) {
      int want = 0;
      for (int q = 0; q < n; ++q) want += static_cast<int>(i % 17) - 8 + q;
      float got;
      uint32_t bits;
      if (dt == GW_BFLOAT16) {
        bits = static_cast<uint32_t>(recv[i]) << 16;
        std::memcpy(&got, &bits, 4);
      } else {
        uint32_t h = recv[i];
        int e = (h >> 10) & 0x1f;
        got = (h & 0x7fff) == 0 ? 0.0f : std::ldexp(1.0f + (h & 0x3ff) / 1024.0f, e - 15) * ((h & 0x8000) ? -1 : 1);
      }
      wrong += got != static_cast<float>(want);
    }
    EXPECT_EQ(wrong, 0u) << "dtype " << dt;
  }
}

// ---- several layers in one buffer ----
TEST(Multi, BucketOfLayersKeepsPerLayerSpecsAndStats) {
  CommGuard comm("compressor=maxmin:bits=8;chunk_bytes=64K");
  const int n = world_size();
  const size_t total = 150000;
  ASSERT_EQ(gw_layer_set_spec(comm, "bias", "none"), GW_SUCCESS);
  ASSERT_EQ(gw_layer_set_spec(comm, "w2", "maxmin:bits=4,bucket=256"), GW_SUCCESS);
  const char* names[] = {"w1", "bias", "w2"};
  size_t offsets[] = {0, 100000, 100100};
  size_t counts[] = {100000, 100, 49000};  // leaves a gap at the end
  std::vector<float> send = make_input(world_rank(), total), recv(total, 123.0f);
  ASSERT_EQ(gw_allreduce_multi(comm, 3, names, offsets, counts, send.data(), recv.data(), GW_FLOAT32, GW_AVG, nullptr),
            GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(recv.data(), total * sizeof(float)));
  std::vector<double> want = exact_mean(n, total);
  for (size_t i = 100000; i < 100100; ++i) EXPECT_NEAR(recv[i], want[i], 1e-6);  // "none"
  for (size_t i = 149100; i < total; ++i) ASSERT_EQ(recv[i], 123.0f);             // the gap is untouched
  std::vector<float> w1(recv.begin(), recv.begin() + 100000);
  EXPECT_LT(rel_error(w1, std::vector<double>(want.begin(), want.begin() + 100000)), 2e-2);
  gw_stats s1, s2, s3, all;
  ASSERT_EQ(gw_layer_stats(comm, "w1", &s1), GW_SUCCESS);
  ASSERT_EQ(gw_layer_stats(comm, "bias", &s2), GW_SUCCESS);
  ASSERT_EQ(gw_layer_stats(comm, "w2", &s3), GW_SUCCESS);
  ASSERT_EQ(gw_comm_stats(comm, &all), GW_SUCCESS);
  EXPECT_EQ(s1.calls, 1u);
  EXPECT_EQ(s2.elements, 100u);
  EXPECT_EQ(s1.bytes_sent + s2.bytes_sent + s3.bytes_sent, all.bytes_sent);
  // Each layer is charged its own payload: 4-bit beats 8-bit beats fp32.
  EXPECT_GT(s3.compression_ratio, 1.7 * s1.compression_ratio);
  EXPECT_GT(s1.compression_ratio, 3.0 * s2.compression_ratio);
  char spec[64];
  ASSERT_EQ(gw_layer_get_spec(comm, "w2", spec, sizeof(spec)), GW_SUCCESS);
  EXPECT_STREQ(spec, "maxmin:bits=4,bucket=256");
}

// ---- statistics add up to the bytes actually sent ----
TEST(Stats, BytesSentMatchTheWire) {
  const int n = world_size();
  const size_t count = 1000;
  CommGuard comm("algorithm=allgather;compressor=none");
  std::vector<float> send = make_input(world_rank(), count), recv(count);
  for (int k = 0; k < 3; ++k)
    ASSERT_EQ(gw_allreduce(comm, "s", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "s", &st), GW_SUCCESS);
  const uint64_t header = 80;  // wire header bytes per message
  EXPECT_EQ(st.calls, 3u);
  EXPECT_EQ(st.bytes_input, 3 * count * 4);
  EXPECT_EQ(st.bytes_sent, 3ull * (n - 1) * (header + count * 4));
  EXPECT_EQ(st.bytes_received, st.bytes_sent);
  // Across ranks, everything sent was received.
  uint64_t sent = st.bytes_sent, recvd = st.bytes_received, sum_s = 0, sum_r = 0;
  MPI_Allreduce(&sent, &sum_s, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&recvd, &sum_r, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sum_s, sum_r);
  EXPECT_GT(st.total_seconds, 0.0);
  EXPECT_GE(st.total_seconds + 1e-9, st.comm_seconds);
}

TEST(Stats, CompressionRatioOfMaxmin4) {
  const size_t count = 1 << 20;
  CommGuard comm("algorithm=allgather;compressor=maxmin:bits=4,bucket=512");
  std::vector<float> send = make_input(world_rank(), count), recv(count);
  ASSERT_EQ(gw_allreduce(comm, "r", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "r", &st), GW_SUCCESS);
  // Per peer: 4 bits per value + 8 bytes per 512 values -> 32/4.125 = 7.76x.
  double per_peer = static_cast<double>(st.bytes_input) / (st.bytes_sent / (world_size() - 1.0));
  EXPECT_GT(per_peer, 7.6);
  EXPECT_LT(per_peer, 7.8);
}

// ---- checkpoints: a restored layer continues exactly ----
TEST(Checkpoint, RestoredLayerRepeatsTheSameResults) {
  const size_t count = 10000;
  std::vector<float> send = make_input(world_rank(), count), a(count), b(count);
  CommGuard run("compressor=maxmin:bits=2");
  for (int k = 0; k < 3; ++k)
    ASSERT_EQ(gw_allreduce(run, "w", send.data(), a.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  size_t size = 0;
  ASSERT_EQ(gw_layer_save_state(run, "w", nullptr, &size), GW_SUCCESS);
  std::vector<uint8_t> state(size);
  ASSERT_EQ(gw_layer_save_state(run, "w", state.data(), &size), GW_SUCCESS);
  ASSERT_EQ(gw_allreduce(run, "w", send.data(), a.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);

  CommGuard resumed("compressor=maxmin:bits=2");
  ASSERT_EQ(gw_layer_load_state(resumed, "w", state.data(), state.size()), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(gw_allreduce(resumed, "w", send.data(), b.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), count * sizeof(float)));  // same step -> same rounding
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(resumed, "w", &st), GW_SUCCESS);
  EXPECT_EQ(st.calls, 4u);
  // Damaged or foreign state is refused.
  state[9] ^= 1;
  EXPECT_EQ(gw_layer_load_state(resumed, "w", state.data(), state.size()), GW_ERR_CORRUPT);
  EXPECT_EQ(gw_layer_load_state(resumed, "w", state.data(), state.size() - 1), GW_ERR_CORRUPT);
}

// ---- large: 64 Mi elements ----
TEST(Large, SixtyFourMiElements) {
  const size_t count = 64ull << 20;
  CommGuard comm("compressor=maxmin:bits=4");
  std::vector<float> send(count), recv(count);
  for (size_t i = 0; i < count; ++i) send[i] = static_cast<float>((i % 1024) * 0.001 + world_rank() * 0.01);
  ASSERT_EQ(gw_allreduce(comm, "big", send.data(), recv.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float)));
  const int n = world_size();
  double worst = 0;
  for (size_t i = 0; i < count; i += 97) {
    double want = (i % 1024) * 0.001 + 0.01 * (n - 1) / 2.0;
    worst = std::max(worst, std::fabs(recv[i] - want));
  }
  EXPECT_LT(worst, 2 * 1.1 / 15);  // two quantizations (SRA) of a bucket range <= 0.55+0.03
}

}  // namespace
