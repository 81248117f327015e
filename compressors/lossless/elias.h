// Elias-gamma coding of a bucket quantizer's levels (the QSGD paper's lossless
// stage), over any payload described by PackedLevels (core/compressor.h).
//
// Body layout for n values, nb = ceil(n / bucket) buckets:
//   [nb x scale_bytes]   the inner payload's per-bucket scales, raw
//   [nb x uint8 center]  per bucket, the level its codes are ranked around
//   [bit stream]         per value in order: gamma(rank + 1), then (sign-magnitude
//                        codes with a nonzero level only) the sign bit; zero bits
//                        pad the last byte.
// Bits are written LSB-first. gamma(x), x >= 1, N = floor(log2 x): N zero bits, a
// one, then the low N bits of x (lowest first): 2N + 1 bits, so small ranks are
// short (rank 0: 1 bit, 1..2: 3 bits, 3..6: 5 bits).
//
// The rank of level l around center c (levels 0..L, L = max_level) folds the two
// sides together, nearest first: c -> 0, c+1 -> 1, c-1 -> 2, c+2 -> 3, ...; once
// the shorter side is used up the longer side continues one by one. The encoder
// picks c = the bucket's most frequent level. For qsgd with the l2 norm that is
// level 0, where the rank is the level itself and the code is the paper's
// (sign + gamma(level + 1)); for nuq (levels indexed by exponent) and maxmin
// (unsigned offsets from the bucket minimum, whose zero sits mid-range) the
// center moves to where the levels cluster.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/compressor.h"

namespace gw {
namespace lossless {

// Bytes of the inner payload for n values (the PackedLevels layout).
size_t packed_bytes(const PackedLevels& L, size_t n);

// Codes the inner payload in[0..packed_bytes(L, n)) into out[0..cap). Returns the
// body length, or 0 when it would not fit in cap or a code is outside the layout
// (a level above max_level, a negative zero): the caller then stores the payload.
size_t elias_code(const PackedLevels& L, const uint8_t* in, size_t n, uint8_t* out, size_t cap);

// Rebuilds the inner payload out[0..packed_bytes(L, n)) from body in[0..bytes).
// Untrusted input: anything inconsistent (truncated, trailing bytes, a code past
// max_level, a bad center) is GW_ERR_CORRUPT naming `what`; nothing outside the
// two buffers is touched.
void elias_decode(const PackedLevels& L, const uint8_t* in, size_t bytes, size_t n, uint8_t* out,
                  const std::string& what);

}  // namespace lossless
}  // namespace gw
