// gw-gpu-bench: GPU codec kernels against the device's copy bandwidth.
//
// For each buffer size (default 64 MiB and 256 MiB of float32 input) and codec,
// times encode, decode and decode_add with CUDA events (median of --reps runs after
// warm-up), each op paired with a device-to-device cudaMemcpyAsync of the input
// size timed alternately with it, and reports
//   GB/s = (bytes read + bytes written) / time,  frac = GB/s / copy GB/s
// where a copy of B bytes moves 2B and
//   encode     reads 4n, writes encoded_bytes(n)
//   decode     reads encoded_bytes(n), writes 4n
//   decode_add reads encoded_bytes(n) + 4n, writes 4n.
// Inputs rotate among 3 buffer sets so the 50 MB L2 holds no previous run's data.
// Before the codecs: the device randomized Hadamard transform (rotate, in place,
// unrotate; reads 4n, writes 4n). A round scheme's spec (eden:bits=B) times its
// rotated-domain codec: "encode (rotate + levels)" is the device rotation then
// the levels encode, counted as reading 4n and writing encoded_bytes(n) (the
// rotated vector's round trip through a scratch buffer is not counted), and
// "levels encode" the codec alone; "encode (fused)" is eden's fused device
// encode (compressors/eden/eden_device.h: each bucket rotated in shared memory
// and encoded from there), counted the same way, which is all it moves.
// Also times the rounding numbers alone (rng_sr_top4: one rng_u32 per two elements,
// no memory traffic) to show what stochastic rounding costs.
//
// --batch B times B back-to-back launches per sample (and B back-to-back copies
// for the paired copy) and divides by B: the throughput of a stream of calls,
// as a training step's many layers issue them, without the per-launch latency
// and ramp that a single timed call includes (about 7 us on an H100, which is
// a tenth of a 64 MiB encode). The default 1 times single calls.
//
//   gw-gpu-bench [--sizes-mib 64,256] [--reps 30] [--batch 1] [--specs maxmin:bits=4,bucket=512;fp16;eden:bits=4]
//   (--help: the options; a bad command line exits 1)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/gpu/options.h"
#include "compressors/common/hadamard_device.h"
#include "compressors/eden/eden_device.h"
#include "src/common/rng.h"
#include "src/core/device_compressor.h"
#include "src/scheme/round_codec.h"
#include "src/spec/registry.h"

namespace {

#define CK(call)                                                                              \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

// Deterministic non-trivial data: per-element hash -> roughly N(0, 1)-shaped values
// with a per-bucket-ish drift, no zeros.
__global__ void fill_kernel(float* x, size_t n, uint64_t key) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint32_t i32 = static_cast<uint32_t>(i);
    float a = gw::rng_uniform(key, i32), b = gw::rng_uniform(key ^ 0x1234567ull, i32);
    float c = gw::rng_uniform(key + 99, i32 >> 9);
    x[i] = (a + b - 1.0f) * 2.0f + (c - 0.5f) * 0.5f + 1e-3f;
  }
}

// The rounding numbers alone: what stochastic rounding costs per element, as the
// encode kernels draw them (4 elements, two hashes, at a time), no memory traffic
// beyond one word per thread.
__global__ void rng_only_kernel(size_t n, uint64_t key, uint32_t* sink) {
  uint32_t acc = 0;
  const size_t t = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = 4 * t; i < n; i += 4 * stride) {
    uint32_t w[4];
    gw::rng_sr_top4(key, static_cast<uint32_t>(i), w);
    acc ^= w[0] ^ w[1] ^ w[2] ^ w[3];
  }
  if (acc == 0x12345678u) sink[t % 1024] = acc;  // keeps the loop alive; practically never stores
}

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
  template <class F>
  float ms(F&& f, cudaStream_t s) {
    CK(cudaEventRecord(a, s));
    f();
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float t = 0;
    CK(cudaEventElapsedTime(&t, a, b));
    return t;
  }
};

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Paired {
  float op_ms, copy_ms;
};

// Alternates op(r) and copy(r) (each batch times back to back, see --batch);
// medians of both, per call.
template <class Op, class Copy>
Paired time_paired(Op&& op, Copy&& copy, int reps, int batch, cudaStream_t s) {
  Timer t;
  for (int w = 0; w < 3; ++w) {
    op(w);
    copy(w);
  }
  CK(cudaStreamSynchronize(s));
  std::vector<float> o, c;
  for (int r = 0; r < reps; ++r) {
    o.push_back(t.ms([&] { for (int b = 0; b < batch; ++b) op(r * batch + b); }, s) / batch);
    c.push_back(t.ms([&] { for (int b = 0; b < batch; ++b) copy(r * batch + b); }, s) / batch);
  }
  return {median(o), median(c)};
}

}  // namespace

int main(int argc, char** argv) {
  const gpubench::Options opt = gpubench::parse_options(argc, argv);
  const std::vector<size_t>& sizes_mib = opt.sizes_mib;
  const std::vector<std::string>& specs = opt.specs;
  const int reps = opt.reps, batch = opt.batch;
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    std::printf("gw-gpu-bench: no CUDA device: nothing measured\n");
    return 0;
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %.0f MB; median of %d runs of %d back-to-back call(s); "
              "GB/s = (read + written) / time per call\n\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6, reps, batch);

  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  constexpr int kSets = 3;

  for (size_t mib : sizes_mib) {
    const size_t in_bytes = mib << 20, n = in_bytes / 4;
    float* x[kSets];
    float* acc[kSets];
    uint8_t* pay[kSets];
    for (int k = 0; k < kSets; ++k) {
      CK(cudaMalloc(&x[k], in_bytes));
      CK(cudaMalloc(&acc[k], in_bytes));
      CK(cudaMalloc(&pay[k], in_bytes + 4096));  // >= any codec's payload here
      fill_kernel<<<4096, 256, 0, s>>>(x[k], n, 1000 + k);
      fill_kernel<<<4096, 256, 0, s>>>(acc[k], n, 2000 + k);
    }
    float* cdst;
    CK(cudaMalloc(&cdst, in_bytes));
    int* flag;
    CK(cudaMalloc(&flag, sizeof(int)));
    CK(cudaMemsetAsync(flag, 0, sizeof(int), s));
    uint32_t* sink;
    CK(cudaMalloc(&sink, 4096));
    CK(cudaStreamSynchronize(s));

    // Plain copy bandwidth (also the denominator of every row, re-measured per row).
    auto copy = [&](int r) {
      CK(cudaMemcpyAsync(cdst, x[r % kSets], in_bytes, cudaMemcpyDeviceToDevice, s));
    };
    Paired cp = time_paired(copy, copy, reps, batch, s);
    const double copy_gbs = 2.0 * in_bytes / (cp.copy_ms * 1e6);
    std::printf("## %zu MiB float32 input (n = %zu)\n\ndevice-to-device copy: %.3f ms, %.0f GB/s (read + write)\n\n",
                mib, n, cp.copy_ms, copy_gbs);

    // The RNG alone.
    Timer t;
    const unsigned rng_grid = static_cast<unsigned>(prop.multiProcessorCount) * 8;
    for (int w = 0; w < 3; ++w) rng_only_kernel<<<rng_grid, 256, 0, s>>>(n, 42, sink);
    std::vector<float> rt;
    for (int r = 0; r < reps; ++r)
      rt.push_back(t.ms([&] { rng_only_kernel<<<rng_grid, 256, 0, s>>>(n, 42 + r, sink); }, s));
    const float rng_ms = median(rt);
    std::printf("Rounding numbers alone (one rng_u32 per two elements, no loads/stores): %.3f ms = %.1f Gvalues/s "
                "(%.0f%% of the copy time of the input)\n\n",
                rng_ms, n / (rng_ms * 1e6), 100.0 * rng_ms / cp.copy_ms);

    std::printf("| codec | payload MiB | op | ms | GB/s | copy GB/s (paired) | frac of copy |\n");
    std::printf("|---|---:|---|---:|---:|---:|---:|\n");
    // One row: op(r) timed against the paired copy; `bytes` read + written per call.
    auto row = [&](const std::string& what, double payload, const char* op_name, double bytes, auto&& op) {
      Paired p = time_paired(op, copy, reps, batch, s);
      const double gbs = bytes / (p.op_ms * 1e6), cgbs = 2.0 * in_bytes / (p.copy_ms * 1e6);
      char mib[32] = "";
      if (payload > 0) std::snprintf(mib, sizeof mib, "%.1f", payload / 1048576.0);
      std::printf("| %s | %s | %s | %.3f | %.0f | %.0f | %.2f |\n", what.c_str(), mib, op_name, p.op_ms, gbs, cgbs,
                  gbs / cgbs);
    };

    // The device RHT (compressors/common/hadamard_device.h): reads 4n, writes 4n.
    // Out of place x -> acc (acc is scratch until the decode rows overwrite it).
    row("hadamard", 0, "rotate", 8.0 * n,
        [&](int r) { gw::hadamard::device_rotate(x[r % kSets], acc[r % kSets], n, 11 + r, s); });
    row("hadamard", 0, "rotate in place", 8.0 * n,
        [&](int r) { gw::hadamard::device_rotate(acc[r % kSets], acc[r % kSets], n, 11 + r, s); });
    row("hadamard", 0, "unrotate", 8.0 * n,
        [&](int r) { gw::hadamard::device_unrotate(x[r % kSets], acc[r % kSets], n, 11 + r, s); });

    for (const std::string& spec : specs) {
      auto c = gw::make_compressor(spec);
      // A round scheme has no twin of its own; eden's rotated-domain codec has
      // one, timed after the device rotation as a device path would run it.
      const gw::Compressor* codec = c->round_codec() ? c->round_codec()->factor_codec().get() : c.get();
      const bool rotated = c->round_codec() && spec.rfind("eden", 0) == 0;
      auto d = gw::make_device_compressor(*codec);
      if (!d || (c->round_codec() && !rotated)) {
        std::printf("| %s | | (no GPU twin) | | | | |\n", spec.c_str());
        continue;
      }
      const size_t pb = codec->encoded_bytes(n);
      for (int k = 0; k < kSets; ++k) d->encode(x[k], n, pay[k], 7 + k, flag, s);
      CK(cudaStreamSynchronize(s));
      if (rotated) {
        // The bytes of the whole step (read x, write the payload); the rotated
        // vector's round trip through acc is traffic the figure does not count.
        row(spec, pb, "encode (rotate + levels)", 4.0 * n + pb, [&](int r) {
          const int k = r % kSets;
          gw::hadamard::device_rotate(x[k], acc[k], n, 11 + r, s);
          d->encode(acc[k], n, pay[(k + 1) % kSets], 0, flag, s);
        });
        gw::PackedLevels pl;
        const int eden_bits = codec->packed_levels(&pl) ? pl.bits : 4;  // EdenLevels says its width
        row(spec, pb, "encode (fused)", 4.0 * n + pb, [&](int r) {
          const int k = r % kSets;
          gw::eden::device_encode_rotated(x[k], n, eden_bits, 11 + r, pay[(k + 1) % kSets], flag, s);
        });
        row(spec, pb, "levels encode", 4.0 * n + pb,
            [&](int r) { d->encode(x[r % kSets], n, pay[(r + 1) % kSets], 0, flag, s); });
      } else {
        row(spec, pb, "encode", 4.0 * n + pb,
            [&](int r) { d->encode(x[r % kSets], n, pay[(r % kSets + 1) % kSets], 7 + r % kSets, flag, s); });
      }
      for (int k = 0; k < kSets; ++k) d->encode(x[k], n, pay[k], 7 + k, flag, s);  // valid payloads to decode
      row(spec, pb, "decode", pb + 4.0 * n, [&](int r) { d->decode(pay[r % kSets], pb, n, acc[r % kSets], s); });
      row(spec, pb, "decode_add", pb + 8.0 * n,
          [&](int r) { d->decode_add(pay[r % kSets], pb, n, acc[r % kSets], s); });
      // Finite inputs: the flag must still be 0.
      int h = 0;
      CK(cudaMemcpy(&h, flag, sizeof(int), cudaMemcpyDeviceToHost));
      if (h) std::printf("| %s | | WARNING: non-finite flag set on finite data | | | | |\n", spec.c_str());
    }
    std::printf("\n");
    for (int k = 0; k < kSets; ++k) {
      CK(cudaFree(x[k]));
      CK(cudaFree(acc[k]));
      CK(cudaFree(pay[k]));
    }
    CK(cudaFree(cdst));
    CK(cudaFree(flag));
    CK(cudaFree(sink));
  }
  CK(cudaStreamDestroy(s));
  return 0;
}
