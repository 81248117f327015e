// powersgd's device side: none yet. Device buffers over MPI are staged to the
// host path (src/comm/communicator_placement.cpp), where the BLAS runs; the
// cuBLAS twin on the caller's stream is future work (README, "PowerSGD").
#include "src/core/device_compressor.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_powersgd(const Compressor&) { return nullptr; }

}  // namespace gw
