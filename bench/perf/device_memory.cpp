#include "bench/perf/device_memory.h"

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

std::string device_unavailable() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  cudaGetLastError();  // do not leave a sticky error behind
  if (e != cudaSuccess) return cudaGetErrorString(e);
  if (n == 0) return "no CUDA device found";
  return "";
}
void* device_alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}
void device_free(void* p) {
  if (p) cudaFree(p);
}
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
// nullptr is CUDA's legacy default stream, but here it means "host run": nothing to wait for.
void stream_sync(void* s) {
  if (s) check(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "cudaStreamSynchronize");
}
void stream_destroy(void* s) {
  if (s) cudaStreamDestroy(static_cast<cudaStream_t>(s));
}
}  // namespace perf

#else

namespace perf {
std::string device_unavailable() { return "gradwire was built without CUDA"; }
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
