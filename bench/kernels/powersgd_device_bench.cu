// gw-powersgd-device-bench: one rank's device compute of a powersgd step
// (compressors/powersgd/low_rank_device.h) on a rows x cols layer, step by
// step and whole, at ranks 1, 4 and 16, against a device copy of the layer
// (bytes read and written) as the bandwidth baseline. The exchanges are not
// here (gw-perf --device times whole calls); this says what the GPU side of a
// call costs and which step to speed up. Needs only CUDA, like the library.
//
//   gw-powersgd-device-bench [rows cols]        default 4096 4096
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "bench/kernels/cuda_timing.cuh"
#include "compressors/powersgd/low_rank_device.h"
#include "src/core/device_compressor.h"

namespace ld = gw::low_rank_device;
using gwbench::check;
using gwbench::time_ms;

int main(int argc, char** argv) {
  const size_t rows = argc > 2 ? std::strtoull(argv[1], nullptr, 10) : 4096;
  const size_t cols = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 4096;
  if (gw::device::device_count() == 0 || !ld::available()) {
    std::printf("no CUDA device, or cuBLAS did not open: nothing measured\n");
    return 0;
  }
  const size_t n = rows * cols, max_r = 16;
  const int iters = 50;
  float *G, *E, *out, *P, *Q;
  check(cudaMalloc(&G, 4 * n), "malloc");
  check(cudaMalloc(&E, 4 * n), "malloc");
  check(cudaMalloc(&out, 4 * n), "malloc");
  check(cudaMalloc(&P, 4 * rows * max_r), "malloc");
  check(cudaMalloc(&Q, 4 * cols * max_r), "malloc");
  ld::fill_normal(G, n, 1, nullptr);
  check(cudaMemset(E, 0, 4 * n), "memset");
  const double copy = time_ms([&] { check(cudaMemcpyAsync(out, G, 4 * n, cudaMemcpyDeviceToDevice), "copy"); }, iters);
  std::printf("device: %s; %zu x %zu fp32 (%.1f MiB); us per call, mean of %d after 3 warm-up calls\n",
              gw::device::device_name(), rows, cols, 4.0 * n / (1 << 20), iters);
  std::printf("device copy of the layer: %.1f us (%.0f GB/s read + written)\n\n", copy * 1e3, 8.0 * n / copy / 1e6);
  std::printf("| rank | E += G | orth Q | P = M Q | orth P | Q = M^T P | Q mean | P Q^T, E -= | step | step / copy |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (size_t r : {size_t(1), size_t(4), size_t(16)}) {
    ld::fill_normal(Q, cols * r, 2, nullptr);
    ld::fill_normal(P, rows * r, 3, nullptr);
    // E stays small: each timed E += G is followed by nothing that resets it,
    // which does not change the time of an elementwise pass.
    const double t_add = time_ms([&] { ld::add_into(E, G, n, nullptr); }, iters);
    const double t_oq = time_ms([&] { ld::orthonormalize(Q, cols, r, nullptr); }, iters);
    const double t_mq = time_ms([&] { ld::mul_mq(E, rows, cols, Q, r, P, nullptr); }, iters);
    const double t_op = time_ms([&] { ld::orthonormalize(P, rows, r, nullptr); }, iters);
    const double t_mtp = time_ms([&] { ld::mul_mtp(E, rows, cols, P, r, Q, nullptr); }, iters);
    const double t_mean = time_ms([&] { ld::scaled_copy(Q, Q, cols * r, 1.0f, nullptr); }, iters);
    const double t_pqt = time_ms([&] { ld::mul_pqt(P, Q, rows, cols, r, out, E, 1.0f, nullptr); }, iters);
    const double t_step = time_ms(
        [&] {
          ld::add_into(E, G, n, nullptr);
          ld::orthonormalize(Q, cols, r, nullptr);
          ld::mul_mq(E, rows, cols, Q, r, P, nullptr);
          ld::orthonormalize(P, rows, r, nullptr);
          ld::mul_mtp(E, rows, cols, P, r, Q, nullptr);
          ld::scaled_copy(Q, Q, cols * r, 1.0f, nullptr);
          ld::mul_pqt(P, Q, rows, cols, r, out, E, 1.0f, nullptr);
        },
        iters);
    std::printf("| %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n", r, t_add * 1e3, t_oq * 1e3,
                t_mq * 1e3, t_op * 1e3, t_mtp * 1e3, t_mean * 1e3, t_pqt * 1e3, t_step * 1e3, t_step / copy);
  }
  cudaFree(G);
  cudaFree(E);
  cudaFree(out);
  cudaFree(P);
  cudaFree(Q);
  return 0;
}
