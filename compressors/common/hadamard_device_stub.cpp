// Builds without CUDA: the device RHT has nothing to run on (hadamard_device.cu
// is the real one, compiled only when GW_HAVE_CUDA), and neither has eden's
// fused rotate-and-encode (compressors/eden/eden_device.h; eden.cu is the real
// one), which is stubbed here too so that no new source file is needed.
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "compressors/common/hadamard_device.h"
#include "compressors/eden/eden_device.h"
#include "src/common/error.h"

namespace gw {
namespace hadamard {

void device_rotate(const float*, float*, size_t, uint64_t, void*) {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support");
}
void device_unrotate(const float*, float*, size_t, uint64_t, void*) {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support");
}

}  // namespace hadamard

namespace eden {
size_t device_encode_rotated(const float*, size_t, int, uint64_t, uint8_t*, int*, void*) {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support");
}
}  // namespace eden
}  // namespace gw
#endif
