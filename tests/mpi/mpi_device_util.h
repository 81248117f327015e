// Device-memory helpers of the multi-rank GPU tests (CUDA builds only).
#pragma once

#include "gradwire/gradwire.h"

#if GW_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "tests/mpi/mpi_test_util.h"

namespace gwtest {

// Devices visible to this rank (0 without a driver or GPU).
inline int device_count_here() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
  cudaGetLastError();
  return n;
}

// Every rank sees a GPU.
inline bool have_gpu() { return all_ranks(device_count_here() > 0); }

struct DeviceBuffer {
  float* p = nullptr;
  explicit DeviceBuffer(size_t n) { EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)), cudaSuccess); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void put(const std::vector<float>& v) { cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice); }
  std::vector<float> get(size_t n) const {
    std::vector<float> v(n);
    cudaMemcpy(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost);
    return v;
  }
};

}  // namespace gwtest
#endif
