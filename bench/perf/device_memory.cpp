#include "device_memory.h"

#include <cstdio>
#include <cstdlib>

#include "gradwire/gw_config.h"

#if GW_HAVE_CUDA
#include <cuda_runtime.h>

namespace perf {
namespace {
void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "gw-perf: %s failed: %s\n", what, cudaGetErrorString(e));
  std::exit(2);
}
}  // namespace

bool device_available() {
  int n = 0;
  bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  cudaGetLastError();
  return ok;
}
void* device_alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}
void device_free(void* p) { cudaFree(p); }
void copy_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (to device)");
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (to host)");
}
int select_device(int rank) {
  int n = 0;
  check(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  check(cudaSetDevice(rank % n), "cudaSetDevice");
  return rank % n;
}
void* stream_create() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return s;
}
void stream_sync(void* s) { check(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "cudaStreamSynchronize"); }
void stream_destroy(void* s) { cudaStreamDestroy(static_cast<cudaStream_t>(s)); }
}  // namespace perf

#else

namespace perf {
bool device_available() { return false; }
void* device_alloc(size_t) { return nullptr; }
void device_free(void*) {}
void copy_to_device(void*, const void*, size_t) {}
void copy_to_host(void*, const void*, size_t) {}
int select_device(int) { return -1; }
void* stream_create() { return nullptr; }
void stream_sync(void*) {}
void stream_destroy(void*) {}
}  // namespace perf

#endif
