// Internal to the device algorithms (.cu files only): element-wise kernels on
// the caller's stream that the collectives need besides the codecs.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "src/core/device_util.cuh"

namespace gw {
namespace devkernels {

__global__ void scale_kernel(float* x, size_t n, float factor);
// out[i] = g[i] += out[i] (EF21's aggregate step, the same float operations as the host's).
__global__ void ef21_step_kernel(float* g, float* out, size_t n);
// x[i] = NaN when *flag is set (a poisoned result must not pass for a good one).
__global__ void poison_kernel(float* x, size_t n, const int* flag);

inline void scale(float* x, size_t n, float factor, cudaStream_t s) {
  if (!n) return;
  scale_kernel<<<devutil::grid_for(n, 1024, 4), 256, 0, s>>>(x, n, factor);
  devutil::check_launch("scale");
}

inline void ef21_step(float* g, float* out, size_t n, cudaStream_t s) {
  if (!n) return;
  ef21_step_kernel<<<devutil::grid_for(n, 1024, 4), 256, 0, s>>>(g, out, n);
  devutil::check_launch("ef21 step");
}

inline void poison_if(float* x, size_t n, const int* flag, cudaStream_t s) {
  if (!n) return;
  poison_kernel<<<devutil::grid_for(n, 1024, 4), 256, 0, s>>>(x, n, flag);
  devutil::check_launch("poison");
}

}  // namespace devkernels
}  // namespace gw
