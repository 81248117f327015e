// CRC32C (Castagnoli) over message bytes: hardware crc32 instructions where
// the CPU has SSE4.2, a table otherwise (same result).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gw {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace gw
