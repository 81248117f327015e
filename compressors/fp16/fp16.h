// "fp16": each float32 becomes one 2-byte IEEE binary16, little-endian (round to
// nearest even; |x| >= 65520 becomes +-Inf, subnormals kept). The codec, shared
// with bf16: compressors/common/cast_codec.h; conversions: common/half.h.
#pragma once

#include "src/common/half.h"
#include "compressors/common/cast_codec.h"

namespace gw {

constexpr uint16_t kFp16CompressorId = 2;
inline constexpr char kFp16Spec[] = "fp16";

using Fp16Compressor =
    CastCompressor<kFp16CompressorId, kFp16Spec, float_to_half_check, half_to_float, half_to_float_add>;

void register_fp16(Registry& r);

}  // namespace gw
