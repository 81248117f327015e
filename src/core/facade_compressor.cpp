#include "src/core/facade_compressor.h"

#include "src/common/error.h"

namespace gw {

size_t FacadeCompressor::encode(const float*, size_t, uint8_t*, uint64_t, bool*) const {
  fail(GW_ERR_INTERNAL, spec(), " ", travels_as(), ", never as one payload of its own");
}
void FacadeCompressor::decode(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec(), " ", travels_as(), ", never as one payload of its own");
}
void FacadeCompressor::decode_add(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec(), " ", travels_as(), ", never as one payload of its own");
}

}  // namespace gw
