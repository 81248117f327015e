// What the sparsifying codecs (topk, randomk) share: how many values a layer
// keeps at a density, and the magnitude key that orders (and screens) values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gw {
namespace sparse {

// The number of values kept for n inputs at `density` (at least 1 when n > 0).
inline size_t k_for(size_t n, double density) {
  if (n == 0) return 0;
  const double want = std::ceil(density * static_cast<double>(n) - 1e-9);  // 0.01 * 100 is 1, not 2
  return std::min(n, std::max<size_t>(1, static_cast<size_t>(want)));
}

// Magnitude key: |v|'s bits (sign cleared); larger key = larger magnitude, and
// a key >= 0x7f800000 is Inf or NaN.
inline uint32_t magnitude_key(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u & 0x7fffffffu;
}

}  // namespace sparse
}  // namespace gw
