// Device buffers over the MPI transport (staged through pinned host memory):
// ranks sharing one GPU get exactly what the same call on host buffers gives.
// Skipped, visibly, where the build has no CUDA or the machine no GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>

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

// Round schemes without a device side (eden, lattice) on device buffers:
// staged whole to the host path, so every step and the state equal the host call's.
TEST(DeviceRoundSchemes, StagedStepsAndStateEqualTheHostPath) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  const size_t rows = 120, cols = 250, count = rows * cols;
  for (const char* spec : {"eden:bits=3", "lattice:bits=4"}) {
    const std::string cfg = std::string("compressor=") + spec;
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
      ASSERT_EQ(d_recv.get(count), want) << spec << " step " << t;
    }
    std::vector<uint8_t> host_rec = save_layer_state(on_host, "w"), dev_rec = save_layer_state(on_device, "w");
    EXPECT_EQ(dev_rec.size(), host_rec.size()) << spec;
  }
}

// powersgd on device buffers runs on the GPU (state in GPU memory, cuBLAS and
// its own kernels on the caller's stream; compressors/powersgd/low_rank_device.h),
// here in a bucket with a bias that goes exactly in the first exchange. Every
// rank gets the same bits; with fp32 factors every step is within 1e-4 of the
// largest result value of the host call's (cuBLAS and the host BLAS round
// their products differently; the shared side is the same arithmetic). With
// 16-bit factors a factor value that sits near a rounding boundary rounds the
// other way and moves the result by a bf16 ulp (2^-8 relative), which error
// feedback then carries into later steps: 1e-2 at the first step, and later
// steps only where the ranks agree. The bias is the host's bit for bit; a
// checkpoint taken from GPU memory continues identically.
TEST(DeviceRoundSchemes, PowerSgdOnTheGpuMatchesTheHostAndItsRanksAgree) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine";
  const size_t rows = 120, cols = 250, count = rows * cols, bias = 250, total = count + bias;
  const int64_t dims[2] = {int64_t(rows), int64_t(cols)};
  const char* names[] = {"w", "b"};
  size_t offsets[] = {0, count}, counts[] = {count, bias};
  for (const char* spec : {"powersgd:rank=4", "powersgd:rank=2,warm=0,factors=bf16", "powersgd:rank=4,ef=0"}) {
    const bool bf16 = std::string(spec).find("bf16") != std::string::npos;
    const std::string cfg = std::string("compressor=") + spec;
    CommGuard on_host(cfg), on_device(cfg), resumed(cfg);
    for (gw_comm_t c : {on_host.comm, on_device.comm, resumed.comm})
      ASSERT_EQ(gw_layer_set_shape(c, "w", 2, dims), GW_SUCCESS);
    cudaStream_t stream;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    DeviceBuffer d_send(total), d_recv(total);
    std::vector<float> at_checkpoint;
    double worst = 0;
    for (int t = 0; t < 6; ++t) {
      std::vector<float> send = make_input(world_rank(), total, 500u + static_cast<uint32_t>(t)), want(total);
      ASSERT_EQ(gw_allreduce_multi(on_host, 2, names, offsets, counts, send.data(), want.data(), GW_FLOAT32, GW_AVG,
                                   nullptr),
                GW_SUCCESS)
          << gw_last_error();
      d_send.put(send);
      // put() copies from pageable memory on the legacy stream: the call may
      // return before the data lands, and a non-blocking stream does not wait
      // for it. A caller hands over data that is ready in its stream's order.
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      ASSERT_EQ(gw_allreduce_multi(on_device, 2, names, offsets, counts, d_send.p, d_recv.p, GW_FLOAT32, GW_AVG,
                                   stream),
                GW_SUCCESS)
          << gw_last_error();
      const std::vector<float> got = d_recv.get(total);
      ASSERT_TRUE(same_on_all_ranks(got.data(), got.size() * sizeof(float))) << spec << " step " << t;
      double top = 0, diff = 0;
      for (size_t i = 0; i < count; ++i) {
        top = std::max(top, static_cast<double>(std::fabs(want[i])));
        diff = std::max(diff, static_cast<double>(std::fabs(got[i] - want[i])));
      }
      ASSERT_GT(top, 0.0);
      if (!bf16 || t == 0) {
        worst = std::max(worst, diff / top);
        EXPECT_LE(diff, (bf16 ? 1e-2 : 1e-4) * top) << spec << " step " << t;
      }
      EXPECT_TRUE(std::equal(got.begin() + count, got.end(), want.begin() + count)) << spec << ": the bias, step " << t;
      if (t == 2) {  // the device's state, downloaded into a record, loaded into a fresh communicator
        std::vector<uint8_t> rec = save_layer_state(on_device, "w");
        ASSERT_EQ(gw_layer_load_state(resumed, "w", rec.data(), rec.size()), GW_SUCCESS) << gw_last_error();
      }
      if (t >= 3) {
        DeviceBuffer d_other(total);
        ASSERT_EQ(gw_allreduce_multi(resumed, 2, names, offsets, counts, d_send.p, d_other.p, GW_FLOAT32, GW_AVG,
                                     stream),
                  GW_SUCCESS)
            << gw_last_error();
        EXPECT_EQ(d_other.get(total), got) << spec << ": resumed from the checkpoint, step " << t;
      }
    }
    if (world_rank() == 0) std::printf("[ measured ] %s: GPU vs host, worst |diff| / max|result| = %.2e%s\n", spec, worst,
                                     bf16 ? " (first step)" : "");
    cudaStreamDestroy(stream);
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
