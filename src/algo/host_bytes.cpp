#include "src/algo/host_bytes.h"

#include <cstdlib>
#include <new>

#include "src/common/error.h"
#include "gradwire/gw_config.h"

#if GW_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gw {

uint8_t* HostBytes::reserve(size_t bytes, bool pinned) {
  if (bytes <= cap_ && pinned == pinned_ && p_) return p_;
  release();
  size_t want = bytes < 64 ? 64 : bytes;
#if GW_HAVE_CUDA
  if (pinned) {
    void* p = nullptr;
    cudaError_t e = cudaMallocHost(&p, want);
    if (e != cudaSuccess) fail(GW_ERR_SYSTEM, "cudaMallocHost of ", want, " bytes failed: ", cudaGetErrorString(e));
    p_ = static_cast<uint8_t*>(p);
    cap_ = want;
    pinned_ = true;
    return p_;
  }
#else
  GW_REQUIRE(!pinned, GW_ERR_UNSUPPORTED, "pinned host memory needs a build with CUDA");
#endif
  p_ = static_cast<uint8_t*>(std::aligned_alloc(64, (want + 63) & ~size_t(63)));
  if (!p_) throw std::bad_alloc();
  cap_ = want;
  pinned_ = false;
  return p_;
}

void HostBytes::release() {
  if (!p_) return;
#if GW_HAVE_CUDA
  if (pinned_) {
    cudaFreeHost(p_);
    p_ = nullptr;
    cap_ = 0;
    return;
  }
#endif
  std::free(p_);
  p_ = nullptr;
  cap_ = 0;
}

}  // namespace gw
