// "bf16": each float32 becomes one 2-byte bfloat16, little-endian (the upper 16
// bits of the float32, rounded to nearest even). The codec, shared with fp16:
// compressors/common/cast_codec.h; conversions: common/half.h.
#pragma once

#include "src/common/half.h"
#include "compressors/common/cast_codec.h"

namespace gw {

constexpr uint16_t kBf16CompressorId = 3;
inline constexpr char kBf16Spec[] = "bf16";

using Bf16Compressor =
    CastCompressor<kBf16CompressorId, kBf16Spec, float_to_bf16_check, bf16_to_float, bf16_to_float_add>;

void register_bf16(Registry& r);

}  // namespace gw
