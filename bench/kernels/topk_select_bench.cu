// gw-topk-select-bench: GPU top-k encode (selection + payload) with DGC's
// sampled threshold against the exact radix select, in one binary, at 16M and
// 100M floats (or the sizes given as arguments), density 0.01; plain and with
// fused residual error feedback; a device copy of the layer as the bandwidth
// baseline. Both modes must give the same payload (checked). Needs only CUDA
// (no Google Benchmark, no Boost), so it builds wherever the library does.
//
//   gw-topk-select-bench [n ...]        e.g. gw-topk-select-bench 16777216 100000000
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "src/common/rng.h"
#include "src/core/device_compressor.h"
#include "src/spec/registry.h"
#include "bench/kernels/cuda_timing.cuh"

namespace {

using gwbench::check;
using gwbench::time_ms;

// Gaussian-like gradients (Box-Muller on counter-based uniforms), made on the
// device: 100M values from the host would dominate the run.
__global__ void fill_gauss(float* x, size_t n, uint64_t key) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float u1 = (static_cast<float>(gw::rng_u32(key, static_cast<uint32_t>(2 * i)) >> 8) + 1.0f) * 0x1p-24f;
    const float u2 = static_cast<float>(gw::rng_u32(key, static_cast<uint32_t>(2 * i + 1)) >> 8) * 0x1p-24f;
    x[i] = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2) * 1e-3f;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {size_t{16} << 20, size_t{100000000}};
  if (gw::device::device_count() == 0) {
    std::printf("no CUDA device: nothing measured\n");
    return 0;
  }
  const double density = 0.01;
  const int iters = 20;
  std::printf("device: %s; density %.3g; ms per call, mean of %d after 3 warm-up calls\n", gw::device::device_name(),
              density, iters);
  auto exact = gw::make_compressor("topk:density=0.01,select=exact,index=raw");
  auto sample = gw::make_compressor("topk:density=0.01,select=sample,index=raw");
  auto dx = gw::make_device_compressor(*exact), ds = gw::make_device_compressor(*sample);
  if (!dx || !ds) {
    std::printf("no GPU twin for topk in this build\n");
    return 1;
  }
  int fails = 0;
  for (size_t n : sizes) {
    float *x = nullptr, *y = nullptr, *st = nullptr;
    uint8_t *pe = nullptr, *ps = nullptr;
    const size_t bytes = exact->encoded_bytes(n);
    check(cudaMalloc(&x, 4 * n), "malloc");
    check(cudaMalloc(&y, 4 * n), "malloc");
    check(cudaMalloc(&st, 4 * n), "malloc");
    check(cudaMalloc(&pe, bytes), "malloc");
    check(cudaMalloc(&ps, bytes), "malloc");
    fill_gauss<<<4096, 256>>>(x, n, 42);
    check(cudaMemset(st, 0, 4 * n), "memset");
    const double copy = time_ms([&] { check(cudaMemcpyAsync(y, x, 4 * n, cudaMemcpyDeviceToDevice), "copy"); },
                                iters);
    const double t_exact = time_ms([&] { dx->encode(x, n, pe, 7, nullptr, nullptr); }, iters);
    const double t_sample = time_ms([&] { ds->encode(x, n, ps, 7, nullptr, nullptr); }, iters);
    std::vector<uint8_t> he(bytes), hs(bytes);
    check(cudaMemcpy(he.data(), pe, bytes, cudaMemcpyDeviceToHost), "d2h");
    check(cudaMemcpy(hs.data(), ps, bytes, cudaMemcpyDeviceToHost), "d2h");
    const bool same = he == hs;
    fails += !same;
    // Fused residual feedback (state kept at zero by re-zeroing is not needed:
    // the timing covers the same passes whatever the state holds).
    const double f_exact = time_ms(
        [&] { dx->encode_feedback(x, st, n, gw::Feedback::kResidual, pe, 7, nullptr, nullptr, nullptr); }, iters);
    const double f_sample = time_ms(
        [&] { ds->encode_feedback(x, st, n, gw::Feedback::kResidual, ps, 7, nullptr, nullptr, nullptr); }, iters);
    std::printf("n=%zu k=%zu\n", n, (bytes - 12) / 8);
    std::printf("  device copy (4n bytes)      %8.3f ms  %7.1f GB/s (read+write)\n", copy, 8.0 * n / copy / 1e6);
    std::printf("  topk encode exact  (radix)  %8.3f ms  %5.2fx copy\n", t_exact, t_exact / copy);
    std::printf("  topk encode sample (DGC)    %8.3f ms  %5.2fx copy\n", t_sample, t_sample / copy);
    std::printf("  exact / sample              %8.2fx  payloads %s\n", t_exact / t_sample, same ? "identical" : "DIFFER");
    std::printf("  ef=1 fused exact            %8.3f ms\n", f_exact);
    std::printf("  ef=1 fused sample           %8.3f ms  exact / sample %.2fx\n", f_sample, f_exact / f_sample);
    cudaFree(x);
    cudaFree(y);
    cudaFree(st);
    cudaFree(pe);
    cudaFree(ps);
  }
  return fails ? 1 : 0;
}
