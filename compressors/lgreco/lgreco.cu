// lgreco has no device side of its own: a planned layer travels in its
// candidate's codec (whose CUDA twin, if any, is that family's).
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_lgreco(const Compressor&) { return nullptr; }

}  // namespace gw
