// The NCCL transport (stream-ordered GPU path). NCCL refuses two ranks on one
// GPU, so where there are fewer GPUs than ranks every rank runs its own NCCL
// world of one (MPI_COMM_SELF): the whole path still runs — encode, header,
// ncclAllGather, device header check, decode. With a GPU per rank the group is
// MPI_COMM_WORLD. Reference: the MPI transport over the same group with device
// buffers, whose results equal the CPU path's (device_buffers_test), so
// agreement here is bit for bit. Skipped, visibly, without NCCL or a GPU.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "tests/mpi/mpi_device_util.h"
#include "compressors/powersgd/low_rank.h"
#include "tests/mpi/mpi_test_util.h"

#if GW_HAVE_NCCL
#include <nccl.h>

#include <cstddef>

#include "src/comm/communicator.h"
#include "src/config/config.h"
#include "transports/nccl/nccl_transport.h"
#include "src/wire/header.h"
#endif

using namespace gwtest;

namespace {

#if GW_HAVE_NCCL

class Nccl : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const int gpus = device_count_here();
    if (!all_ranks(gpus > 0)) GTEST_SKIP() << "no CUDA device on this machine";
    const bool one_each = all_ranks(gpus >= world_size());
    group_ = one_each ? MPI_COMM_WORLD : MPI_COMM_SELF;
    ASSERT_EQ(cudaSetDevice(world_rank() % gpus), cudaSuccess);
    MPI_Comm_size(group_, &group_size_);
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  // NCCL and MPI communicators over the group, same config.
  void make(const std::string& config, gw_comm_t* nccl, gw_comm_t* mpi) {
    const std::string cfg = "timeout=60;algorithm=allgather;" + config;
    ASSERT_EQ(gw_comm_create_nccl_mpi(nccl, group_, cfg.c_str()), GW_SUCCESS) << gw_last_error();
    ASSERT_EQ(gw_comm_create_mpi(mpi, group_, cfg.c_str()), GW_SUCCESS) << gw_last_error();
  }
  MPI_Comm group_ = MPI_COMM_SELF;
  int group_size_ = 1;
  cudaStream_t stream_ = nullptr;
};

TEST_P(Nccl, AllreduceEqualsMpiTransportBitForBit) {
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make(std::string("fallback_bytes=0;chunk_bytes=256K;compressor=") + GetParam(), &nccl, &mpi);
  int size = 0;
  ASSERT_EQ(gw_comm_size(nccl, &size), GW_SUCCESS);
  EXPECT_EQ(size, group_size_);
  for (size_t count : {size_t(0), size_t(1), size_t(1001), size_t(65539), size_t(300007)}) {
    for (gw_op op : {GW_SUM, GW_AVG}) {
      std::vector<float> send = make_input(world_rank(), count);
      DeviceBuffer d_send(count), d_nccl(count), d_mpi(count);
      d_send.put(send);
      ASSERT_EQ(gw_allreduce(mpi, "x", d_send.p, d_mpi.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(gw_allreduce(nccl, "x", d_send.p, d_nccl.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      EXPECT_EQ(d_nccl.get(count), d_mpi.get(count)) << GetParam() << " count " << count;
      // In place, next step of both.
      ASSERT_EQ(gw_allreduce(mpi, "x", d_mpi.p, d_mpi.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS);
      ASSERT_EQ(gw_allreduce(nccl, "x", d_nccl.p, d_nccl.p, count, GW_FLOAT32, op, stream_), GW_SUCCESS);
      ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      std::vector<float> got = d_nccl.get(count);
      EXPECT_EQ(got, d_mpi.get(count)) << "in place, count " << count;
      EXPECT_TRUE(same_on_all_ranks(got.data(), got.size() * sizeof(float)) || group_ == MPI_COMM_SELF);
    }
  }
  EXPECT_EQ(gw_comm_get_state(nccl), GW_SUCCESS) << gw_last_error();
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

TEST_P(Nccl, AllgatherAndMultiLayerEqualMpiTransport) {
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make(std::string("fallback_bytes=0;chunk_bytes=64K;compressor=") + GetParam(), &nccl, &mpi);
  const size_t count = 50001;
  DeviceBuffer d_send(count), d_nccl(count * group_size_), d_mpi(count * group_size_);
  d_send.put(make_input(world_rank(), count));
  ASSERT_EQ(gw_allgather(mpi, "g", d_send.p, d_mpi.p, count, GW_FLOAT32, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(gw_allgather(nccl, "g", d_send.p, d_nccl.p, count, GW_FLOAT32, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(d_nccl.get(count * group_size_), d_mpi.get(count * group_size_));

  const char* names[] = {"a", "b"};
  size_t offsets[] = {0, 20000}, counts[] = {17000, 30001};  // a gap of 3000 left alone
  d_nccl.put(std::vector<float>(count, 5.0f));
  d_mpi.put(std::vector<float>(count, 5.0f));
  ASSERT_EQ(gw_allreduce_multi(mpi, 2, names, offsets, counts, d_send.p, d_mpi.p, GW_FLOAT32, GW_SUM, stream_),
            GW_SUCCESS);
  ASSERT_EQ(gw_allreduce_multi(nccl, 2, names, offsets, counts, d_send.p, d_nccl.p, GW_FLOAT32, GW_SUM, stream_),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> got = d_nccl.get(count);
  EXPECT_EQ(got, d_mpi.get(count));
  EXPECT_EQ(got[18000], 5.0f);
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

INSTANTIATE_TEST_SUITE_P(Codecs, Nccl,
                         testing::Values("none", "fp16", "bf16", "maxmin:bits=4", "maxmin:bits=8,bucket=1024",
                                         "qsgd:bits=4", "nuq:bits=4,bucket=256"));

class NcclPath : public Nccl {};

TEST_F(NcclPath, SmallMessagesUseTheNcclCollective) {
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make("fallback_bytes=64K;compressor=maxmin:bits=2,bucket=64", &nccl, &mpi);
  const size_t count = 1000;
  std::vector<float> send = make_input(world_rank(), count);
  DeviceBuffer d_send(count), d_out(count);
  d_send.put(send);
  ASSERT_EQ(gw_allreduce(nccl, "small", d_send.p, d_out.p, count, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> got = d_out.get(count);
  size_t outside = 0;  // uncompressed: fp32 rounding only, where 2 bits would be far off
  for (size_t i = 0; i < count; ++i) {
    double want = 0, mag = 0;
    for (int q = 0; q < group_size_; ++q) {
      int src = group_size_ == 1 ? world_rank() : q;
      want += input_value(src, i), mag += std::fabs(input_value(src, i));
    }
    outside += std::fabs(got[i] - want) > group_size_ * 1.2e-7 * mag;
  }
  EXPECT_EQ(outside, 0u);
  // fp16 buffers take the plain path too.
  std::vector<uint16_t> h(100, 0x3c00);
  uint16_t* d_h = nullptr;
  ASSERT_EQ(cudaMalloc(&d_h, 200), cudaSuccess);
  cudaMemcpy(d_h, h.data(), 200, cudaMemcpyHostToDevice);
  ASSERT_EQ(gw_allreduce(nccl, "half", d_h, d_h, 100, GW_FLOAT16, GW_AVG, stream_), GW_SUCCESS) << gw_last_error();
  cudaMemcpy(h.data(), d_h, 200, cudaMemcpyDeviceToHost);
  EXPECT_EQ(h[99], 0x3c00);
  cudaFree(d_h);
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

TEST_F(NcclPath, BadArgumentsAreErrors) {
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make("fallback_bytes=0;compressor=maxmin:bits=4", &nccl, &mpi);
  std::vector<float> host(4096, 1.0f);
  EXPECT_EQ(gw_allreduce(nccl, "h", host.data(), host.data(), host.size(), GW_FLOAT32, GW_SUM, stream_),
            GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(gw_last_error()).find("device buffers"), std::string::npos) << gw_last_error();
  DeviceBuffer d(4096);
  EXPECT_EQ(gw_allreduce(nccl, "h", d.p, d.p, 8192, GW_FLOAT16, GW_SUM, stream_), GW_ERR_UNSUPPORTED);
  // Not on the stream-ordered path yet: error feedback and round schemes, refused by name.
  std::vector<std::string> later = {"topk:density=0.01"};
  if (gw::low_rank::available()) later.push_back("powersgd:rank=2");
  const int64_t dims[2] = {64, 64};
  for (const std::string& spec : later) {
    ASSERT_EQ(gw_layer_set_spec(nccl, "later", spec.c_str()), GW_SUCCESS) << gw_last_error();
    ASSERT_EQ(gw_layer_set_shape(nccl, "later", 2, dims), GW_SUCCESS);
    EXPECT_EQ(gw_allreduce(nccl, "later", d.p, d.p, 4096, GW_FLOAT32, GW_SUM, stream_), GW_ERR_UNSUPPORTED) << spec;
    EXPECT_NE(std::string(gw_last_error()).find("MPI transport"), std::string::npos) << gw_last_error();
  }
  EXPECT_EQ(gw_comm_get_state(nccl), GW_SUCCESS) << gw_last_error();  // argument errors do not break it
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

TEST_F(NcclPath, CreatedFromAnExistingNcclComm) {
  if (group_ != MPI_COMM_SELF) GTEST_SKIP() << "covered by the bootstrap over MPI_COMM_WORLD";
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t raw = nullptr;
  ASSERT_EQ(ncclCommInitRank(&raw, 1, id, 0), ncclSuccess);
  gw_comm_t comm = nullptr;
  ASSERT_EQ(gw_comm_create_nccl(&comm, raw, "fallback_bytes=0;compressor=none"), GW_SUCCESS) << gw_last_error();
  DeviceBuffer d(1000);
  std::vector<float> x = make_input(0, 1000);
  d.put(x);
  ASSERT_EQ(gw_allreduce(comm, "x", d.p, d.p, 1000, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(d.get(1000), x);  // one rank, no compression: the input itself
  gw_comm_destroy(comm);
  ncclCommDestroy(raw);  // still the caller's
}

// Holds a stream behind a host callback until released: if any gradwire call
// waited for the stream (or the device), it would block until the watchdog
// releases it — and the test fails instead of hanging.
struct StreamGate {
  std::atomic<bool> open{false};
  static void CUDART_CB hold(void* self) {
    auto* g = static_cast<StreamGate*>(self);
    while (!g->open.load()) std::this_thread::yield();
  }
};

TEST_F(NcclPath, NoHiddenSynchronization) {
  // A few calls of several pipelined rounds each: NCCL itself blocks the host
  // once its queue of pending operations fills (hundreds of them), which is
  // not gradwire waiting, so the test stays well below that.
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make("fallback_bytes=0;chunk_bytes=1M;compressor=maxmin:bits=4", &nccl, &mpi);
  const size_t count = 1 << 20;  // 4 MiB: 4 pipelined rounds per call
  const int calls = 4;
  DeviceBuffer d_in(count), d_out(count), d_ref(count);
  d_in.put(make_input(world_rank(), count));
  // Reference results first (same layer steps on the MPI comm), then a warm-up
  // call of the same layer: it grows the NCCL communicator's buffers and
  // confirms the layer's plan with the peers (the one wait of a layer).
  for (int c = 0; c < calls + 1; ++c)
    ASSERT_EQ(gw_allreduce(mpi, "s", d_in.p, d_ref.p, count, GW_FLOAT32, GW_AVG, stream_), GW_SUCCESS);
  ASSERT_EQ(gw_allreduce(nccl, "s", d_in.p, d_out.p, count, GW_FLOAT32, GW_AVG, stream_), GW_SUCCESS);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);

  StreamGate gate;
  std::atomic<bool> watchdog_fired{false}, done{false};
  std::thread watchdog([&] {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done.load()) watchdog_fired = true, gate.open = true;
  });
  ASSERT_EQ(cudaLaunchHostFunc(stream_, StreamGate::hold, &gate), cudaSuccess);
  std::string per_call;  // enqueue time of each call: the one that waited stands out
  for (int c = 0; c < calls; ++c) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(gw_allreduce(nccl, "s", d_in.p, d_out.p, count, GW_FLOAT32, GW_AVG, stream_), GW_SUCCESS)
        << gw_last_error();
    per_call += " " + std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const bool still_held = cudaStreamQuery(stream_) == cudaErrorNotReady;
  EXPECT_EQ(gw_comm_get_state(nccl), GW_SUCCESS) << gw_last_error();  // never waits either
  done = true;
  gate.open = true;
  watchdog.join();
  EXPECT_FALSE(watchdog_fired.load()) << "a gradwire call waited for the stream; enqueue seconds per call:"
                                      << per_call;
  EXPECT_TRUE(still_held) << "the stream finished while it was held";
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(d_out.get(count), d_ref.get(count));
  std::printf("[ info     ] %d calls enqueued behind a held stream, seconds each:%s\n", calls, per_call.c_str());
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

// A layer's first call confirms its plan with every rank (one wait for the
// stream): ranks that disagree, even on the count (which would hang inside
// NCCL), get GW_ERR_MISMATCH from the call itself, and the comm lives on.
TEST_F(NcclPath, MismatchOnALayersFirstCallIsAnErrorOnEveryRank) {
  if (group_size_ < 2) GTEST_SKIP() << "needs a GPU per rank (a mismatch needs two NCCL ranks)";
  gw_comm_t nccl = nullptr, mpi = nullptr;
  make("fallback_bytes=0;compressor=maxmin:bits=4", &nccl, &mpi);
  DeviceBuffer d(20000);
  d.put(make_input(world_rank(), 20000));
  const char* layer = world_rank() == 0 ? "left" : "right";
  EXPECT_EQ(gw_allreduce(nccl, layer, d.p, d.p, 10000, GW_FLOAT32, GW_SUM, stream_), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("layer names"), std::string::npos) << gw_last_error();
  const size_t count = world_rank() == 0 ? 10000 : 20000;
  EXPECT_EQ(gw_allreduce(nccl, "c", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("element count"), std::string::npos) << gw_last_error();
  EXPECT_EQ(gw_comm_get_state(nccl), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(gw_allreduce(nccl, "same", d.p, d.p, 10000, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  gw_comm_destroy(nccl);
  gw_comm_destroy(mpi);
}

// Damages one byte of every received header (the layer-layout hash) after the
// exchange, on the stream: only the device-side header check can see it.
class CorruptingTransport : public gw::StreamTransport {
 public:
  explicit CorruptingTransport(gw::StreamTransport* inner) : inner_(inner) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  const char* name() const override { return "corrupting-nccl"; }
  int device() const override { return inner_->device(); }
  void allgather(const void* send, void* recv, size_t bytes, void* stream) override {
    inner_->allgather(send, recv, bytes, stream);
    if (armed)
      EXPECT_EQ(cudaMemsetAsync(static_cast<char*>(recv) + offsetof(gw::MessageHeader, layers_hash), 0x5a, 1,
                                static_cast<cudaStream_t>(stream)),
                cudaSuccess);
  }
  void alltoall(const void* send, void* recv, size_t stride, size_t bytes, void* stream) override {
    inner_->alltoall(send, recv, stride, bytes, stream);
  }
  void allreduce(const void* send, void* recv, size_t count, gw_dtype dtype, gw_op op, void* stream) override {
    inner_->allreduce(send, recv, count, dtype, op, stream);
  }
  std::string async_error() override { return inner_->async_error(); }
  bool armed = false;

 private:
  std::unique_ptr<gw::StreamTransport> inner_;
};

TEST_F(NcclPath, DamagedHeaderPoisonsTheResultAndBreaksTheComm) {
  auto* t = new CorruptingTransport(new gw::NcclTransport(MPI_COMM_SELF));
  auto* c = new gw::Communicator(std::unique_ptr<gw::StreamTransport>(t),
                                 gw::parse_config("fallback_bytes=0;compressor=maxmin:bits=4"));
  gw_comm_t comm = reinterpret_cast<gw_comm_t>(c);
  const size_t count = 10000;
  DeviceBuffer d(count);
  d.put(make_input(world_rank(), count));
  ASSERT_EQ(gw_allreduce(comm, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_FALSE(std::isnan(d.get(count)[0]));
  EXPECT_EQ(gw_comm_get_state(comm), GW_SUCCESS) << gw_last_error();
  t->armed = true;
  // Stream-ordered: the call itself succeeds; the device finds the damage.
  ASSERT_EQ(gw_allreduce(comm, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_SUCCESS) << gw_last_error();
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  std::vector<float> got = d.get(count);
  size_t numbers = 0;
  for (float v : got) numbers += !std::isnan(v);
  EXPECT_EQ(numbers, 0u) << "a rejected call must not return numbers";
  EXPECT_EQ(gw_comm_get_state(comm), GW_ERR_MISMATCH);
  EXPECT_NE(std::string(gw_last_error()).find("layer names or layout"), std::string::npos) << gw_last_error();
  EXPECT_EQ(gw_allreduce(comm, "x", d.p, d.p, count, GW_FLOAT32, GW_SUM, stream_), GW_ERR_COMM_BROKEN);
  EXPECT_EQ(gw_comm_destroy(comm), GW_SUCCESS);
}

#else
TEST(Nccl, NeedNccl) { GTEST_SKIP() << "this build has no NCCL (GW_WITH_NCCL=OFF)"; }
#endif

}  // namespace
