#include "src/scheme/round_scheme_compressor.h"

#include "src/common/error.h"

namespace gw {

size_t RoundSchemeCompressor::encode(const float*, size_t, uint8_t*, uint64_t, bool*) const {
  fail(GW_ERR_INTERNAL, spec(), " runs through its rounds, never as one payload");
}
void RoundSchemeCompressor::decode(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec(), " runs through its rounds, never as one payload");
}
void RoundSchemeCompressor::decode_add(const uint8_t*, size_t, size_t, float*) const {
  fail(GW_ERR_INTERNAL, spec(), " runs through its rounds, never as one payload");
}

}  // namespace gw
