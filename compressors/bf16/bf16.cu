// CUDA twin of the bf16 codec (bf16.h): payload bits identical to the CPU path.
// Both directions are common/half.h's integer reference functions (round to
// nearest even on the bits, NaN quieted), which are as cheap as the hardware
// conversion and identical by construction.
#include <memory>

#include "compressors/bf16/bf16.h"
#include "src/common/error.h"
#include "src/common/half.h"
#include "src/core/device_compressor.h"
#include "src/core/device_elementwise.cuh"

namespace gw {
namespace {

struct Bf16Conv {
  static __device__ __forceinline__ uint16_t enc(float f) { return float_to_bf16_bits(f); }
  static __device__ __forceinline__ float dec(uint16_t b) { return bf16_bits_to_float(b); }
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_bf16(const Compressor& c) {
  if (c.id() != kBf16CompressorId) return nullptr;
  return std::make_unique<CastDevice<Bf16Conv>>(c, "bf16");
}

}  // namespace gw
