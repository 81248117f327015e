// eden's device side: none yet. Device buffers over MPI are staged to the host
// path (src/comm/communicator_placement.cpp); the CUDA twin (rotation and
// Lloyd-Max coding on the caller's stream, payloads identical to the CPU's) is
// future work.
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_eden(const Compressor&) { return nullptr; }

}  // namespace gw
