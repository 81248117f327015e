// make_device_compressor and the small device helpers (CUDA builds; the stub in
// device_compressor_stub.cpp serves builds without CUDA).
#include "src/core/device_compressor.h"

#include <cuda_runtime.h>

#include <atomic>
#include <string>

#include "src/common/error.h"
#include "src/core/device_util.cuh"

namespace gw {

// Defined next to each codec, compressors/<name>/<name>.cu: the twin of c, or
// nullptr when c is not that family's codec. The families are the registry's
// own list (compressors/builtin_list.h), so a new codec's folder and its one
// line there register its GPU twin too.
#define GW_COMPRESSOR(name) std::unique_ptr<DeviceCompressor> make_device_##name(const Compressor& c);
#include "compressors/builtin_list.h"
#undef GW_COMPRESSOR

std::unique_ptr<DeviceCompressor> make_device_compressor(const Compressor& c) {
  using Factory = std::unique_ptr<DeviceCompressor> (*)(const Compressor&);
  static const Factory factories[] = {
#define GW_COMPRESSOR(name) make_device_##name,
#include "compressors/builtin_list.h"
#undef GW_COMPRESSOR
  };
  for (Factory f : factories) {
    if (auto d = f(c)) return d;
  }
  return nullptr;
}

namespace devutil {
int sm_count() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];  // 0 = not read yet
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  if (dev >= 0 && dev < kMaxDevices) {
    int v = cache[dev].load(std::memory_order_relaxed);
    if (v > 0) return v;
  }
  int v = 0;
  check(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  if (v <= 0) v = 1;
  if (dev >= 0 && dev < kMaxDevices) cache[dev].store(v, std::memory_order_relaxed);
  return v;
}
}  // namespace devutil

namespace device {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: not an error for the caller
    return 0;
  }
  return n;
}

const char* device_name() {
  static std::string name;
  if (name.empty() && device_count() > 0) {
    union {  // room to spare for a newer runtime's (larger) struct, see device_staging.cpp
      cudaDeviceProp p;
      unsigned char room[8192];
    } u;
    if (cudaGetDeviceProperties(&u.p, 0) == cudaSuccess) name = u.p.name;
  }
  return name.c_str();
}

void* alloc(size_t bytes) {
  void* p = nullptr;
  devutil::check(cudaMalloc(&p, bytes > 0 ? bytes : 1), "cudaMalloc");
  return p;
}

void release(void* p) {
  if (p) devutil::check(cudaFree(p), "cudaFree");
}

void copy_to_device(void* d_dst, const void* h_src, size_t bytes) {
  if (bytes) devutil::check(cudaMemcpy(d_dst, h_src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}

void copy_to_host(void* h_dst, const void* d_src, size_t bytes) {
  if (bytes) devutil::check(cudaMemcpy(h_dst, d_src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}

void fill(void* d_dst, int byte, size_t bytes) {
  if (bytes) devutil::check(cudaMemset(d_dst, byte, bytes), "cudaMemset");
}

void synchronize() {
  devutil::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  devutil::check(cudaGetLastError(), "kernel");
}

}  // namespace device
}  // namespace gw
