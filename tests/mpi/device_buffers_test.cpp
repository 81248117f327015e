// Device buffers over the MPI transport (staged through pinned host memory):
// ranks sharing one GPU get exactly what the same call on host buffers gives.
// Skipped, visibly, where the build has no CUDA or the machine no GPU.
#include <algorithm>

#include "tests/mpi/mpi_device_util.h"
#include "tests/mpi/mpi_test_util.h"

using namespace gwtest;

namespace {

#if GW_HAVE_CUDA

class DeviceBuffers : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  }
};

TEST_P(DeviceBuffers, AllreduceEqualsHostPath) {
  const std::string cfg = std::string("chunk_bytes=256K;compressor=") + GetParam();
  CommGuard on_host(cfg), on_device(cfg);
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  for (size_t count : {size_t(0), size_t(1), size_t(1001), size_t(300007)}) {
    std::vector<float> send = make_input(world_rank(), count), want(count);
    ASSERT_EQ(gw_allreduce(on_host, "x", send.data(), want.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
    DeviceBuffer d_send(count), d_recv(count);
    d_send.put(send);
    ASSERT_EQ(gw_allreduce(on_device, "x", d_send.p, d_recv.p, count, GW_FLOAT32, GW_AVG, stream), GW_SUCCESS)
        << gw_last_error();
    EXPECT_EQ(d_recv.get(count), want) << "count " << count;
    // In place, on the next step of both.
    ASSERT_EQ(gw_allreduce(on_host, "x", send.data(), send.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
    ASSERT_EQ(gw_allreduce(on_device, "x", d_send.p, d_send.p, count, GW_FLOAT32, GW_AVG, stream), GW_SUCCESS);
    EXPECT_EQ(d_send.get(count), send) << "in place, count " << count;
  }
  cudaStreamDestroy(stream);
}

TEST_P(DeviceBuffers, AllgatherAndBucketWithGap) {
  const std::string cfg = std::string("compressor=") + GetParam();
  CommGuard on_host(cfg), on_device(cfg);
  const int n = world_size();
  const size_t count = 5000;
  std::vector<float> send = make_input(world_rank(), count), want(count * n);
  ASSERT_EQ(gw_allgather(on_host, "g", send.data(), want.data(), count, GW_FLOAT32, nullptr), GW_SUCCESS);
  DeviceBuffer d_send(count), d_recv(count * n);
  d_send.put(send);
  ASSERT_EQ(gw_allgather(on_device, "g", d_send.p, d_recv.p, count, GW_FLOAT32, nullptr), GW_SUCCESS) << gw_last_error();
  EXPECT_EQ(d_recv.get(count * n), want);

  const char* names[] = {"a", "b"};
  size_t offsets[] = {0, 3000}, counts[] = {2000, 2000};  // [2000, 3000) is a gap
  std::vector<float> host_out(count, 5.0f);
  ASSERT_EQ(gw_allreduce_multi(on_host, 2, names, offsets, counts, send.data(), host_out.data(), GW_FLOAT32, GW_SUM,
                               nullptr),
            GW_SUCCESS);
  DeviceBuffer d_out(count);
  d_out.put(std::vector<float>(count, 5.0f));
  ASSERT_EQ(gw_allreduce_multi(on_device, 2, names, offsets, counts, d_send.p, d_out.p, GW_FLOAT32, GW_SUM, nullptr),
            GW_SUCCESS);
  EXPECT_EQ(d_out.get(count), host_out);
}

// Error feedback on device buffers keeps its state in GPU memory and runs the
// CUDA twins' fused feedback: step by step the same bits as the host path, and
// the saved state (downloaded for the record) is the host's, byte for byte; a
// record loaded into a fresh communicator continues identically.
TEST(DeviceFeedback, StateOnTheGpuMatchesTheHostStepByStepAndThroughACheckpoint) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  const size_t count = 30011;
  for (const char* spec : {"topk:density=0.05", "topk:density=0.05,ef=ef21", "maxmin:bits=2,ef=1"}) {
    const std::string cfg = std::string("compressor=") + spec;
    CommGuard on_host(cfg), on_device(cfg);
    DeviceBuffer d_send(count), d_recv(count);
    auto step = [&](gw_comm_t host, gw_comm_t dev, int t) {
      std::vector<float> send = make_input(world_rank(), count, 100u + static_cast<uint32_t>(t)), want(count);
      ASSERT_EQ(gw_allreduce(host, "w", send.data(), want.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      d_send.put(send);
      ASSERT_EQ(gw_allreduce(dev, "w", d_send.p, d_recv.p, count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(d_recv.get(count), want) << spec << " step " << t;
    };
    for (int t = 0; t < 4; ++t) step(on_host, on_device, t);
    std::vector<uint8_t> host_rec = save_layer_state(on_host, "w"), dev_rec = save_layer_state(on_device, "w");
    // The records end with the state vectors, the rule section (empty here:
    // u32 0 and six u64 0, then the excluded set's two u32 0) and a CRC32C
    // (src/scheme/state_record.h); the statistics before them hold timings,
    // which differ.
    const size_t vec_bytes = (std::string(spec).find("ef21") != std::string::npos ? 2 : 1) * count * sizeof(float) +
                             4 + 6 * 8 + 2 * 4;
    ASSERT_EQ(dev_rec.size(), host_rec.size());
    ASSERT_GT(host_rec.size(), vec_bytes + 4);
    ASSERT_TRUE(std::equal(dev_rec.end() - 4 - vec_bytes, dev_rec.end() - 4, host_rec.end() - 4 - vec_bytes)) << spec;
    CommGuard resumed(cfg);
    ASSERT_EQ(gw_layer_load_state(resumed, "w", dev_rec.data(), dev_rec.size()), GW_SUCCESS) << gw_last_error();
    for (int t = 4; t < 6; ++t) step(on_host, resumed, t);
  }
}

// Round schemes on device buffers (powersgd, eden): staged whole to the host
// path (no GPU twins yet), so every step and the state (powersgd: residual and
// Q) equal the host call's.
TEST(DeviceRoundSchemes, StagedStepsAndStateEqualTheHostPath) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  const size_t rows = 120, cols = 250, count = rows * cols;
  struct Case { const char* spec; size_t state_floats; };
  for (const Case& k :
       {Case{"powersgd:rank=4", count + cols * 4}, Case{"eden:bits=3", 0}, Case{"lattice:bits=4", 0}}) {
    const std::string cfg = std::string("compressor=") + k.spec;
    CommGuard on_host(cfg), on_device(cfg);
    const int64_t dims[2] = {int64_t(rows), int64_t(cols)};
    for (gw_comm_t c : {on_host.comm, on_device.comm}) ASSERT_EQ(gw_layer_set_shape(c, "w", 2, dims), GW_SUCCESS);
    DeviceBuffer d_send(count), d_recv(count);
    for (int t = 0; t < 4; ++t) {
      std::vector<float> send = make_input(world_rank(), count, 300u + static_cast<uint32_t>(t)), want(count);
      ASSERT_EQ(gw_allreduce(on_host, "w", send.data(), want.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      d_send.put(send);
      ASSERT_EQ(gw_allreduce(on_device, "w", d_send.p, d_recv.p, count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(d_recv.get(count), want) << k.spec << " step " << t;
    }
    std::vector<uint8_t> host_rec = save_layer_state(on_host, "w"), dev_rec = save_layer_state(on_device, "w");
    const size_t state_bytes = k.state_floats * sizeof(float);
    ASSERT_EQ(dev_rec.size(), host_rec.size()) << k.spec;
    ASSERT_TRUE(std::equal(dev_rec.end() - 4 - state_bytes, dev_rec.end() - 4, host_rec.end() - 4 - state_bytes))
        << k.spec;
  }
}

// The last two run staged whole through the host path (error feedback; a peer rule).
INSTANTIATE_TEST_SUITE_P(Codecs, DeviceBuffers,
                         testing::Values("none", "fp16", "maxmin:bits=4", "topk:density=0.05",
                                         "maxmin:bits=4;robust=median"));

#else
TEST(DeviceBuffers, NeedCuda) { GTEST_SKIP() << "this build has no CUDA (GW_WITH_CUDA=OFF)"; }
#endif

}  // namespace
