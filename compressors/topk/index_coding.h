// The index section of a topk payload: k ascending indices below n, coded one
// of three ways, whichever is smallest for the set at hand (CPU encoder; the GPU
// twin always writes raw, whose size is known on the host):
//   kRaw     k x uint32 little-endian
//   kVarint  idx[0], then idx[j] - idx[j-1] (>= 1), each LEB128 (7 bits a byte,
//            high bit = more bytes follow)
//   kBitmap  ceil(n/8) bytes, bit i (bit i%8 of byte i/8) set for a kept index,
//            bits at and past n zero
// Decoders treat the section as untrusted: an index at or past n, one not above
// its predecessor, a wrong number of indices, or bytes left over is GW_ERR_CORRUPT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "src/common/error.h"

namespace gw {
namespace topk {

enum class IndexFormat : uint8_t { kRaw = 1, kVarint = 2, kBitmap = 3 };

size_t varint_section_bytes(const uint32_t* idx, size_t k);
inline size_t bitmap_section_bytes(size_t n) { return (n + 7) / 8; }
inline size_t raw_section_bytes(size_t k) { return 4 * k; }

// Writes the section (its size from the functions above) to out.
void write_indices(IndexFormat f, const uint32_t* idx, size_t k, size_t n, uint8_t* out);

// Calls visit(j, index) for the k indices of a section of `bytes` bytes, in
// order, after checking each; `who` prefixes errors.
template <typename Visit>
void read_indices(IndexFormat f, const uint8_t* in, size_t bytes, size_t n, size_t k, const char* who, Visit&& visit) {
  auto bad = [&](const char* what, size_t j) {
    fail(GW_ERR_CORRUPT, who, ": index ", j, " of ", k, " ", what, " (", n, " values)");
  };
  uint64_t prev = 0;
  size_t j = 0;
  auto take = [&](uint64_t i) {
    if (j >= k) bad("is one too many", j);
    if (i >= n) bad("is out of range", j);
    if (j > 0 && i <= prev) bad("is repeated or out of order", j);
    visit(j, static_cast<uint32_t>(i));
    prev = i;
    ++j;
  };
  if (f == IndexFormat::kRaw) {
    GW_REQUIRE(bytes == 4 * k, GW_ERR_CORRUPT, who, ": raw index section of ", bytes, " bytes for ", k, " indices");
    for (size_t m = 0; m < k; ++m) {
      uint32_t i;
      std::memcpy(&i, in + 4 * m, 4);
      take(i);
    }
  } else if (f == IndexFormat::kVarint) {
    size_t at = 0;
    while (at < bytes) {
      uint64_t v = 0;
      int shift = 0;
      for (;;) {
        if (at >= bytes) bad("is cut short", j);
        const uint8_t b = in[at++];
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
        if (shift > 35) bad("has an over-long varint", j);
      }
      if (j > 0 && v == 0) bad("is repeated or out of order", j);
      take(j == 0 ? v : prev + v);
    }
  } else if (f == IndexFormat::kBitmap) {
    GW_REQUIRE(bytes == bitmap_section_bytes(n), GW_ERR_CORRUPT, who, ": bitmap of ", bytes, " bytes for ", n,
               " values");
    for (size_t byte = 0; byte < bytes; ++byte) {
      for (unsigned bits = in[byte]; bits; bits &= bits - 1) take(byte * 8 + static_cast<size_t>(__builtin_ctz(bits)));
    }
  } else {
    fail(GW_ERR_CORRUPT, who, ": unknown index format ", static_cast<int>(f));
  }
  if (j != k) fail(GW_ERR_CORRUPT, who, ": index section holds ", j, " indices, the header says ", k);
}

}  // namespace topk
}  // namespace gw
