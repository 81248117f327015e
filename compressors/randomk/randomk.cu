// CUDA twin of randomk (randomk.h): not built yet; nullptr sends device data of this
// codec through the staged host path.
#include <memory>

#include "core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_randomk(const Compressor&) { return nullptr; }

}  // namespace gw
