#include "src/robust/equivocation.h"

#include "src/common/hash.h"

namespace gw {

uint64_t payload_hash(const void* bytes, size_t n) { return hash_value(n, fnv1a64(bytes, n)); }

std::vector<int> equivocating_senders(const uint64_t* matrix, int n) {
  std::vector<int> out;
  for (int s = 0; s < n; ++s) {
    bool seen = false, unanimous = true;
    uint64_t first = 0;
    for (int r = 0; r < n && unanimous; ++r) {
      if (r == s) continue;  // a sender's word about itself decides nothing
      const uint64_t h = matrix[static_cast<size_t>(r) * n + s];
      if (!seen) first = h, seen = true;
      else unanimous = h == first;
    }
    if (!unanimous) out.push_back(s);
  }
  return out;
}

}  // namespace gw
