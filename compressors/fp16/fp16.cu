// CUDA twin of the fp16 codec (fp16.h): payload bits identical to the CPU path.
// float -> half uses the hardware round-to-nearest-even conversion (IEEE, overflow
// to +-Inf, subnormal halves exact: the same function as common/half.h's
// float_to_half_bits) except for NaN, whose payload rule (quiet, top payload bits
// kept) is applied by the reference function. half -> float is the reference one.
#include <cuda_fp16.h>

#include <memory>

#include "src/common/error.h"
#include "src/common/half.h"
#include "src/core/device_compressor.h"
#include "src/core/device_elementwise.cuh"
#include "compressors/fp16/fp16.h"

namespace gw {
namespace {

struct HalfConv {
  static __device__ __forceinline__ uint16_t enc(float f) {
    if ((__float_as_uint(f) & 0x7fffffffu) > 0x7f800000u) return float_to_half_bits(f);  // NaN
    return __half_as_ushort(__float2half_rn(f));
  }
  static __device__ __forceinline__ float dec(uint16_t h) { return half_bits_to_float(h); }
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_fp16(const Compressor& c) {
  if (c.id() != kFp16CompressorId) return nullptr;
  return std::make_unique<CastDevice<HalfConv>>(c, "fp16");
}

}  // namespace gw
