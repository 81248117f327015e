// Builds without CUDA: the device RHT has nothing to run on (hadamard_device.cu
// is the real one, compiled only when GW_HAVE_CUDA).
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "compressors/common/hadamard_device.h"
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
}  // namespace gw
#endif
