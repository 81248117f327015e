// Small non-cryptographic hashes for identifiers on the wire (layer names,
// canonical specs, plans). Stable across platforms and releases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gw {

inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}
inline uint64_t fnv1a64(const std::string& s, uint64_t h = 1469598103934665603ull) {
  return fnv1a64(s.data(), s.size(), h);
}
template <typename T>
inline uint64_t hash_value(const T& v, uint64_t h) {
  return fnv1a64(&v, sizeof(v), h);
}

}  // namespace gw
