// Without CUDA there are no device ops: device buffers are refused earlier.
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "src/algo/data_ops.h"

namespace gw {
std::unique_ptr<DataOps> make_device_ops() { return nullptr; }
}  // namespace gw
#endif
