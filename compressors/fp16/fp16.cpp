#include "compressors/fp16/fp16.h"

namespace gw {

void register_fp16(Registry& r) { register_cast_codec<Fp16Compressor>(r); }

}  // namespace gw
