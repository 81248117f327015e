// Element sizes of the C API's dtypes.
#pragma once

#include <cstddef>

#include "gradwire/gradwire.h"

namespace gw {

inline size_t dtype_size(gw_dtype d) { return d == GW_FLOAT32 ? 4 : 2; }

}  // namespace gw
