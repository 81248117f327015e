#include "src/spec/registry.h"

namespace gw {

#define GW_COMPRESSOR(name) void register_##name(Registry& r);
#include "compressors/builtin_list.h"
#undef GW_COMPRESSOR

void register_builtin_compressors(Registry& r) {
#define GW_COMPRESSOR(name) register_##name(r);
#include "compressors/builtin_list.h"
#undef GW_COMPRESSOR
}

}  // namespace gw
