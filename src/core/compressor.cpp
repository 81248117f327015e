#include "core/compressor.h"

#include "common/error.h"

namespace gw {

size_t Compressor::payload_extent(const uint8_t* /*in*/, size_t avail, size_t n) const {
  const size_t want = encoded_bytes(n);
  GW_REQUIRE(want <= avail, GW_ERR_CORRUPT, spec(), ": payload for ", n, " values needs ", want, " bytes, ", avail,
             " remain in the message");
  return want;
}

}  // namespace gw
