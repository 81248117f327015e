// CUDA twin of the nuq codec (nuq.h): the qsgd engine's device kernels
// (qsgd/qsgd.cu) with nuq's levels; payloads byte-identical to the CPU's.
#include <memory>

#include "src/core/device_compressor.h"
#include "compressors/nuq/nuq.h"
#include "compressors/qsgd/qsgd_kernels.h"

namespace gw {

std::unique_ptr<DeviceCompressor> make_device_nuq(const Compressor& c) {
  const auto* q = dynamic_cast<const NuqCompressor*>(&c);
  if (!q) return nullptr;
  return qsgd::make_device(c, qsgd::make_layout(qsgd::NUQ, q->params().bits, q->params().bucket));
}

}  // namespace gw
