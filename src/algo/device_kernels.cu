#include "src/algo/device_kernels.cuh"

namespace gw {
namespace devkernels {

__global__ void scale_kernel(float* x, size_t n, float factor) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] *= factor;
}

__global__ void ef21_step_kernel(float* g, float* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = g[i] += out[i];  // __fadd_rn-equivalent: nvcc does not contract a lone add
}

__global__ void poison_kernel(float* x, size_t n, const int* flag) {
  if (*flag == 0) return;  // the common case: one load per thread, no stores
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = __int_as_float(0x7fc00000);
}

}  // namespace devkernels
}  // namespace gw
