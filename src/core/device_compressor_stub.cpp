// Builds without CUDA: no device codecs, no devices (device_compressor.cu is the
// real implementation and is compiled only when GW_HAVE_CUDA).
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "src/common/error.h"
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_compressor(const Compressor&) { return nullptr; }

// No twin exists here to call it; defined so the interface's default links.
size_t device_feedback_generic(const DeviceCompressor&, const float*, float*, size_t, Feedback, uint8_t*, uint64_t, int*,
                               void*, void*) {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support");
}

namespace device {
namespace {
[[noreturn]] void no_cuda() { fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support"); }
}  // namespace
int device_count() { return 0; }
const char* device_name() { return ""; }
void* alloc(size_t) { no_cuda(); }
void release(void* p) {
  if (p) no_cuda();
}
void copy_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_to_host(void*, const void*, size_t) { no_cuda(); }
void fill(void*, int, size_t) { no_cuda(); }
void synchronize() { no_cuda(); }
}  // namespace device

}  // namespace gw
#endif
