#include "src/comm/device_staging.h"

#include "src/common/error.h"
#include "gradwire/gw_config.h"

#if GW_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gw {

#if GW_HAVE_CUDA
namespace {
void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(GW_ERR_SYSTEM, what, " failed: ", cudaGetErrorString(e));
}
}  // namespace

bool is_device_pointer(const void* p) {
  // Without a usable GPU nothing is device memory (and the driver is not asked again).
  static const bool have_device = [] {
    int n = 0;
    bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
  }();
  if (p == nullptr || !have_device) return false;
  // Room to spare: a process may load a newer CUDA runtime than the headers we
  // were compiled with (PyTorch bundles its own), whose attribute struct may
  // have grown; it must not write past our stack variable.
  union {
    cudaPointerAttributes attr;
    unsigned char room[512];
  } u;
  cudaPointerAttributes& attr = u.attr;
  cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e != cudaSuccess) {
    cudaGetLastError();  // no driver or unknown pointer: host memory; clear the sticky error
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

DeviceStaging::~DeviceStaging() {
  for (void* h : host_)
    if (h) cudaFreeHost(h);
}

void* DeviceStaging::host(int slot, size_t bytes) {
  if (capacity_[slot] < bytes) {
    if (host_[slot]) check_cuda(cudaFreeHost(host_[slot]), "cudaFreeHost");
    host_[slot] = nullptr;
    capacity_[slot] = 0;
    check_cuda(cudaMallocHost(&host_[slot], bytes), "cudaMallocHost (pinned staging buffer)");
    capacity_[slot] = bytes;
  }
  return host_[slot];
}

void* DeviceStaging::download(int slot, const void* device, size_t bytes, void* stream) {
  void* h = host(slot, bytes);
  auto s = static_cast<cudaStream_t>(stream);
  check_cuda(cudaMemcpyAsync(h, device, bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (device to host)");
  wait(stream);
  return h;
}

void DeviceStaging::upload(void* device, const void* h, size_t bytes, void* stream) {
  check_cuda(cudaMemcpyAsync(device, h, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)),
             "cudaMemcpyAsync (host to device)");
}

void DeviceStaging::wait(void* stream) {
  check_cuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

#else

bool is_device_pointer(const void*) { return false; }
DeviceStaging::~DeviceStaging() = default;
void* DeviceStaging::host(int, size_t) { fail(GW_ERR_UNSUPPORTED, "device buffers need a build with CUDA"); }
void* DeviceStaging::download(int, const void*, size_t, void*) {
  fail(GW_ERR_UNSUPPORTED, "device buffers need a build with CUDA");
}
void DeviceStaging::upload(void*, const void*, size_t, void*) {
  fail(GW_ERR_UNSUPPORTED, "device buffers need a build with CUDA");
}
void DeviceStaging::wait(void*) {}

#endif

}  // namespace gw
