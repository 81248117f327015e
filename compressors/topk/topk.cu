// CUDA twin of topk (topk.h): not built yet; nullptr sends device data of this
// codec through the staged host path.
#include <memory>

#include "core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_topk(const Compressor&) { return nullptr; }

}  // namespace gw
