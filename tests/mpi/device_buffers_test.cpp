// Device buffers over the MPI transport (staged through pinned host memory):
// ranks sharing one GPU get exactly what the same call on host buffers gives.
// Skipped, visibly, where the build has no CUDA or the machine no GPU.
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

// The last two run staged whole through the host path (error feedback; a peer rule).
INSTANTIATE_TEST_SUITE_P(Codecs, DeviceBuffers,
                         testing::Values("none", "fp16", "maxmin:bits=4", "topk:density=0.05",
                                         "maxmin:bits=4;robust=median"));

#else
TEST(DeviceBuffers, NeedCuda) { GTEST_SKIP() << "this build has no CUDA (GW_WITH_CUDA=OFF)"; }
#endif

}  // namespace
