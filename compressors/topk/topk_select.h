// Top-k selection by magnitude, the part of topk that a GPU twin must match.
//
// The selected set is always the exact top-k of |v| over v[0..n): the k values
// of largest magnitude, ties at the k-th magnitude broken toward lower indices
// (NaN counts as larger than +-Inf: its magnitude bits are larger). Indices come
// out ascending. Both modes give that same set; they differ in cost:
//   - exact: radix select on the magnitude's bit pattern (|v| as uint32 orders
//     like |v|): a 2048-bin histogram of the top 11 bits, the candidates of the
//     bin holding the k-th value selected exactly, then one compaction pass;
//   - sample: DGC's sampled threshold (Lin et al., ICLR 2018): the threshold at
//     the top-k ratio of a 1% sample (positions from `key`, aiming 10% above k),
//     one scan for the survivors (AVX2 where the CPU has it: survivors are rare,
//     so eight compares and one mask test per step), and the exact top-k of the
//     survivors when there are at least k of them (then it equals the exact top-k
//     of all); the exact path otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "compressors/common/sparse_count.h"

namespace gw {
namespace topk {

enum class Select : uint8_t { kExact = 0, kSample = 1 };

struct SelectStats {
  size_t survivors = 0;    // sample mode: values past the sampled threshold (before the exact trim)
  bool fell_back = false;  // sample mode: fewer than k survived (or far too many); the exact path ran
};

using sparse::k_for;
using sparse::magnitude_key;

// Writes the k selected indices of v[0..n), ascending, to idx[0..k). n < 2^32, k <= n.
void select(const float* v, size_t n, size_t k, Select mode, uint64_t key, uint32_t* idx, SelectStats* stats);

}  // namespace topk
}  // namespace gw
