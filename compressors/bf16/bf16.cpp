#include "compressors/bf16/bf16.h"

namespace gw {

void register_bf16(Registry& r) { register_cast_codec<Bf16Compressor>(r); }

}  // namespace gw
