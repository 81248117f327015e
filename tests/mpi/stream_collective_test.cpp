// The stream-ordered algorithm (src/algo/stream_collective.cu) with several
// ranks on one GPU, over the test-only MPI staged transport
// (mpi_staged_stream_transport.h): NCCL cannot put two ranks on one device, so
// nccl_test.cpp runs it multi-rank only with a GPU per rank. Reference: the MPI
// transport with device buffers over the same ranks and config, whose results
// equal the CPU path's (device_buffers_test), so agreement is bit for bit, for
// the requested algorithm (a stream path that runs another plan or writes
// other bytes fails here). Skipped, visibly, without CUDA or a GPU.
#include <cctype>
#include <cstddef>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "tests/mpi/mpi_device_util.h"
#include "tests/mpi/mpi_staged_stream_transport.h"
#include "src/wire/header.h"
#include "tests/mpi/mpi_test_util.h"

using namespace gwtest;

namespace {

#if GW_HAVE_CUDA && GW_HAVE_MPI

// Equal bits, element by element (== would let -0 pass for +0); names the first difference.
testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size())
    return testing::AssertionFailure() << "sizes " << got.size() << " and " << want.size();
  size_t differ = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && differ++ == 0) first = i;
  if (differ == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << differ << " of " << got.size() << " elements differ, first at " << first
                                     << ": " << got[first] << " instead of " << want[first];
}

// Every rank on device 0: the case the staged transport exists for.
class OnOneGpu : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
  }
  void TearDown() override {
    gw_comm_destroy(staged_);
    gw_comm_destroy(mpi_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  gw_comm_t staged_ = nullptr;  // the stream-ordered path over MpiStagedStreamTransport
  gw_comm_t mpi_ = nullptr;     // the MPI transport, device buffers staged by the communicator
  cudaStream_t stream_ = nullptr;
};

// The transport alone, before any algorithm relies on it.
TEST_F(OnOneGpu, StagedTransportMovesDeviceBytes) {
  MpiStagedStreamTransport t(MPI_COMM_WORLD);
  const int n = t.size(), me = t.rank();
  ASSERT_EQ(n, world_size());
  EXPECT_EQ(t.device(), 0);
  auto byte = [](int from, int to, size_t j) { return static_cast<unsigned char>(31 * from + 7 * to + j + 1); };
  const size_t bytes = 21, stride = 32;  // odd sizes: nothing assumes words
  DeviceBuffer d_send(n * stride), d_recv(n * stride);
  char* send = reinterpret_cast<char*>(d_send.p);
  char* recv = reinterpret_cast<char*>(d_recv.p);

  // alltoall: block k of send goes to rank k; this rank's own block and the
  // bytes past `bytes` in each block stay untouched.
  std::vector<unsigned char> h(n * stride);
  for (int k = 0; k < n; ++k)
    for (size_t j = 0; j < stride; ++j) h[k * stride + j] = byte(me, k, j);
  ASSERT_EQ(cudaMemcpy(send, h.data(), h.size(), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemset(recv, 0xee, n * stride), cudaSuccess);
  t.alltoall(send, recv, stride, bytes, stream_);
  ASSERT_EQ(cudaMemcpy(h.data(), recv, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  size_t wrong = 0;
  for (int k = 0; k < n; ++k)
    for (size_t j = 0; j < stride; ++j)
      wrong += h[k * stride + j] != (k != me && j < bytes ? byte(k, me, j) : 0xee);
  EXPECT_EQ(wrong, 0u) << "alltoall";

  // allgather: rank k's first `bytes` at k * bytes.
  t.allgather(send + me * stride, recv, bytes, stream_);
  ASSERT_EQ(cudaMemcpy(h.data(), recv, n * bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  wrong = 0;
  for (int k = 0; k < n; ++k)
    for (size_t j = 0; j < bytes; ++j) wrong += h[k * bytes + j] != byte(k, k, j);
  EXPECT_EQ(wrong, 0u) << "allgather";

  // allreduce of small integers (exact in fp32); AVG divides the sum; in place.
  const size_t count = 1001;
  std::vector<float> x(count);
  for (size_t i = 0; i < count; ++i) x[i] = static_cast<float>(me + i % 5);
  DeviceBuffer d_x(count), d_sum(count);
  d_x.put(x);
  t.allreduce(d_x.p, d_sum.p, count, GW_FLOAT32, GW_SUM, stream_);
  t.allreduce(d_x.p, d_x.p, count, GW_FLOAT32, GW_AVG, stream_);
  std::vector<float> sum(count), avg(count);
  for (size_t i = 0; i < count; ++i) {
    sum[i] = static_cast<float>(n * (n - 1) / 2 + n * (i % 5));
    avg[i] = sum[i] / static_cast<float>(n);
  }
  EXPECT_TRUE(same_bits(d_sum.get(count), sum));
  EXPECT_TRUE(same_bits(d_x.get(count), avg));
  try {
    t.allreduce(d_x.p, d_sum.p, 2, GW_FLOAT16, GW_SUM, stream_);
    ADD_FAILURE() << "fp16 allreduce did not throw";
  } catch (const gw::Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_UNSUPPORTED) << e.what();
  }
}

using CodecAndAlgorithm = std::tuple<const char*, const char*>;

class StagedVsMpi : public OnOneGpu, public testing::WithParamInterface<CodecAndAlgorithm> {
 protected:
  // Both communicators from one config string, so only the transport differs.
  void make(const char* chunk_bytes) {
    config_ = std::string("timeout=60;fallback_bytes=0;chunk_bytes=") + chunk_bytes +
              ";algorithm=" + std::get<1>(GetParam()) + ";compressor=" + std::get<0>(GetParam());
    ASSERT_EQ(gw_comm_create_mpi(&mpi_, MPI_COMM_WORLD, config_.c_str()), GW_SUCCESS) << gw_last_error();
    staged_ = make_staged_stream_comm(MPI_COMM_WORLD, config_);
    int size = 0;
    ASSERT_EQ(gw_comm_size(staged_, &size), GW_SUCCESS);
    ASSERT_EQ(size, world_size());
  }
  std::string config_;
};

TEST_P(StagedVsMpi, AllreduceEqualsMpiTransportBitForBit) {
  ASSERT_NO_FATAL_FAILURE(make("256K"));
  for (size_t count : {size_t(0), size_t(1), size_t(1001), size_t(65539), size_t(300007)}) {
    for (gw_op op : {GW_SUM, GW_AVG}) {
      SCOPED_TRACE(config_ + ", count " + std::to_string(count) + (op == GW_SUM ? ", sum" : ", avg"));
      DeviceBuffer d_send(count), d_staged(count), d_mpi(count);
      d_send.put(make_input(world_rank(), count));
      ASSERT_EQ(gw_allreduce(mpi_, "x", d_send.p, d_mpi.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(gw_allreduce(staged_, "x", d_send.p, d_staged.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      EXPECT_TRUE(same_bits(d_staged.get(count), d_mpi.get(count)));
      // In place, the next step of both.
      ASSERT_EQ(gw_allreduce(mpi_, "x", d_mpi.p, d_mpi.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(gw_allreduce(staged_, "x", d_staged.p, d_staged.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      std::vector<float> got = d_staged.get(count);
      EXPECT_TRUE(same_bits(got, d_mpi.get(count))) << "in place";
      EXPECT_TRUE(same_on_all_ranks(got.data(), got.size() * sizeof(float)));
    }
  }
  EXPECT_EQ(gw_comm_get_state(staged_), GW_SUCCESS) << gw_last_error();
}

TEST_P(StagedVsMpi, AllgatherAndMultiLayerEqualMpiTransport) {
  ASSERT_NO_FATAL_FAILURE(make("64K"));  // several rounds per call
  SCOPED_TRACE(config_);
  const size_t count = 50001, n = world_size();
  DeviceBuffer d_send(count), d_staged(count * n), d_mpi(count * n);
  d_send.put(make_input(world_rank(), count));
  ASSERT_EQ(gw_allgather(mpi_, "g", d_send.p, d_mpi.p, count, GW_FLOAT32, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(gw_allgather(staged_, "g", d_send.p, d_staged.p, count, GW_FLOAT32, stream_), GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> gathered = d_staged.get(count * n);
  EXPECT_TRUE(same_bits(gathered, d_mpi.get(count * n))) << "allgather";
  EXPECT_TRUE(same_on_all_ranks(gathered.data(), gathered.size() * sizeof(float)));

  const char* names[] = {"a", "b"};
  size_t offsets[] = {0, 20000}, counts[] = {17000, 30001};  // a gap of 3000 left alone
  d_staged.put(std::vector<float>(count, 5.0f));
  d_mpi.put(std::vector<float>(count, 5.0f));
  ASSERT_EQ(gw_allreduce_multi(mpi_, 2, names, offsets, counts, d_send.p, d_mpi.p, GW_FLOAT32, GW_SUM, stream_),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(gw_allreduce_multi(staged_, 2, names, offsets, counts, d_send.p, d_staged.p, GW_FLOAT32, GW_SUM, stream_),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> got = d_staged.get(count);
  EXPECT_TRUE(same_bits(got, d_mpi.get(count))) << "allreduce_multi";
  EXPECT_EQ(got[18000], 5.0f);
  EXPECT_TRUE(same_on_all_ranks(got.data(), got.size() * sizeof(float)));
  EXPECT_EQ(gw_comm_get_state(staged_), GW_SUCCESS) << gw_last_error();
}

// "maxmin:bits=8,bucket=1024" + "sra" -> "sra_maxmin_bits_8_bucket_1024", so --gtest_filter can pick an algorithm.
std::string codec_and_algorithm_name(const testing::TestParamInfo<CodecAndAlgorithm>& info) {
  std::string s = std::string(std::get<1>(info.param)) + "_" + std::get<0>(info.param);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Codecs, StagedVsMpi,
                         testing::Combine(testing::Values("none", "fp16", "bf16", "maxmin:bits=4",
                                                          "maxmin:bits=8,bucket=1024", "qsgd:bits=4",
                                                          "nuq:bits=4,bucket=256"),
                                          testing::Values("allgather", "sra")),
                         codec_and_algorithm_name);

class StagedMismatch : public OnOneGpu, public testing::WithParamInterface<const char*> {
 protected:
  std::string config() const {
    return std::string("timeout=60;fallback_bytes=0;compressor=maxmin:bits=4;algorithm=") + GetParam();
  }
};

// A layer's first call confirms its plan with every rank before any payload
// moves: ranks that disagree on the layer or on the count (message sizes that
// would not match) get GW_ERR_MISMATCH from the call itself, on every rank,
// and the communicator lives on.
TEST_P(StagedMismatch, LayerOrCountMismatchIsAnErrorOnEveryRank) {
  if (world_size() < 2) GTEST_SKIP() << "a mismatch needs two ranks";
  staged_ = make_staged_stream_comm(MPI_COMM_WORLD, config());
  DeviceBuffer d(20000);
  d.put(make_input(world_rank(), 20000));
  const char* layer = world_rank() == 1 ? "right" : "left";
  EXPECT_EQ(gw_allreduce(staged_, layer, d.p, d.p, 10000, GW_FLOAT32, GW_SUM, stream_), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("layer names"), std::string::npos) << gw_last_error();
  const size_t count = world_rank() == 1 ? 20000 : 10000;
  EXPECT_EQ(gw_allreduce(staged_, "c", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("element count"), std::string::npos) << gw_last_error();
  EXPECT_EQ(gw_comm_get_state(staged_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(gw_allreduce(staged_, "c", d.p, d.p, 10000, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> got = d.get(10000);
  EXPECT_TRUE(same_on_all_ranks(got.data(), got.size() * sizeof(float)));
}

// Damages the layer hash in rank 0's header of every allgather once armed
// (after the plan was agreed): only the device-side header check can see it.
class DamagingTransport : public MpiStagedStreamTransport {
 public:
  using MpiStagedStreamTransport::MpiStagedStreamTransport;
  void allgather(const void* send, void* recv, size_t bytes, void* stream) override {
    MpiStagedStreamTransport::allgather(send, recv, bytes, stream);
    if (armed)
      EXPECT_EQ(cudaMemsetAsync(static_cast<char*>(recv) + offsetof(gw::MessageHeader, layers_hash), 0x5a, 1,
                                static_cast<cudaStream_t>(stream)),
                cudaSuccess);
  }
  bool armed = false;
};

// Every rank receives the damaged header, so every rank reports it; the output
// is NaN, not numbers, and the communicator is broken.
TEST_P(StagedMismatch, DamagedHeaderPoisonsTheResultAndBreaksTheComm) {
  auto* t = new DamagingTransport(MPI_COMM_WORLD);
  staged_ = make_staged_stream_comm(MPI_COMM_WORLD, config(), t);
  const size_t count = 10000;
  DeviceBuffer d(count);
  d.put(make_input(world_rank(), count));
  ASSERT_EQ(gw_allreduce(staged_, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  t->armed = true;
  // Stream-ordered: the call itself succeeds; the device finds the damage.
  ASSERT_EQ(gw_allreduce(staged_, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  size_t numbers = 0;
  for (float v : d.get(count)) numbers += !std::isnan(v);
  EXPECT_EQ(numbers, 0u) << "a rejected call must not return numbers";
  EXPECT_EQ(gw_comm_get_state(staged_), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("layer names"), std::string::npos) << gw_last_error();
  EXPECT_EQ(gw_allreduce(staged_, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_ERR_COMM_BROKEN);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, StagedMismatch, testing::Values("allgather", "sra"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

#else
TEST(StreamCollective, NeedCuda) { GTEST_SKIP() << "this build has no CUDA (GW_WITH_CUDA=OFF)"; }
#endif

}  // namespace
