#include "compressors/topk/index_coding.h"

namespace gw {
namespace topk {

namespace {
size_t varint_len(uint32_t v) { return v < (1u << 7) ? 1 : v < (1u << 14) ? 2 : v < (1u << 21) ? 3 : v < (1u << 28) ? 4 : 5; }
}  // namespace

size_t varint_section_bytes(const uint32_t* idx, size_t k) {
  size_t bytes = 0;
  for (size_t j = 0; j < k; ++j) bytes += varint_len(j ? idx[j] - idx[j - 1] : idx[0]);
  return bytes;
}

void write_indices(IndexFormat f, const uint32_t* idx, size_t k, size_t n, uint8_t* out) {
  if (f == IndexFormat::kRaw) {
    std::memcpy(out, idx, 4 * k);  // little-endian hosts only (see none.h)
  } else if (f == IndexFormat::kVarint) {
    for (size_t j = 0; j < k; ++j) {
      uint32_t v = j ? idx[j] - idx[j - 1] : idx[0];
      while (v >= 0x80) {
        *out++ = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
      }
      *out++ = static_cast<uint8_t>(v);
    }
  } else {
    std::memset(out, 0, bitmap_section_bytes(n));
    for (size_t j = 0; j < k; ++j) out[idx[j] >> 3] |= static_cast<uint8_t>(1u << (idx[j] & 7));
  }
}

}  // namespace topk
}  // namespace gw
