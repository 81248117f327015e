// Shared by the CUDA-only kernel benchmarks (topk_select_bench.cu,
// powersgd_device_bench.cu): exit on a CUDA error, and the mean time of a
// launch sequence on the legacy stream, timed with events after warm-up calls.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

namespace gwbench {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <class F>
double time_ms(F&& f, int iters) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  for (int i = 0; i < 3; ++i) f();  // warm-up: scratch grows on the first call
  check(cudaDeviceSynchronize(), "warm-up");
  check(cudaEventRecord(a), "record");
  for (int i = 0; i < iters; ++i) f();
  check(cudaEventRecord(b), "record");
  check(cudaEventSynchronize(b), "sync");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, a, b), "elapsed");
  check(cudaGetLastError(), "kernels");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / iters;
}

}  // namespace gwbench
