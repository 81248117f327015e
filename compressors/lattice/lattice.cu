// lattice's device side: none yet. Device buffers over MPI are staged to the
// host path (src/comm/communicator_placement.cpp), as for every round scheme.
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_lattice(const Compressor&) { return nullptr; }

}  // namespace gw
