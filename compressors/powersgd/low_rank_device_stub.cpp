// Builds without CUDA: no device side (low_rank_device.cu is the real one and
// is compiled only when GW_HAVE_CUDA). Nothing calls these there: without
// CUDA no pointer is a device pointer, and available() keeps it so.
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "compressors/powersgd/low_rank_device.h"
#include "src/common/error.h"

namespace gw {
namespace low_rank_device {
namespace {
[[noreturn]] void no_cuda() { fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no CUDA support"); }
}  // namespace

bool available() { return false; }
void add_into(float*, const float*, size_t, void*) { no_cuda(); }
void scaled_copy(float*, const float*, size_t, float, void*) { no_cuda(); }
void fill_normal(float*, size_t, uint64_t, void*) { no_cuda(); }
void mul_mq(const float*, size_t, size_t, const float*, size_t, float*, void*) { no_cuda(); }
void mul_mtp(const float*, size_t, size_t, const float*, size_t, float*, void*) { no_cuda(); }
void mul_pqt(const float*, const float*, size_t, size_t, size_t, float*, float*, float, void*) { no_cuda(); }
void orthonormalize(float*, size_t, size_t, void*) { no_cuda(); }

}  // namespace low_rank_device
}  // namespace gw
#endif
