// powersgd has no DeviceCompressor twin: it is a round scheme, and its device
// side is low_rank_device.cu, called from PowerSgdCompressor's produce and
// consume when a call's data is on the GPU (RoundCall::on_device).
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_powersgd(const Compressor&) { return nullptr; }

}  // namespace gw
