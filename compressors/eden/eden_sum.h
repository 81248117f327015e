// EDEN's per-bucket sums, ||y||^2 and <y, levels> (its scale is their ratio),
// in one fixed order that both the CPU codec (eden.cpp) and its GPU twin
// (eden.cu) follow, so both get the same double and the same scale bits on
// every machine.
//
// The order, for a bucket of len <= eden::kBucket values:
//   lane l (0 <= l < kSumLanes) adds the products a[i] * b[i] of
//   i = l, l + kSumLanes, l + 2 kSumLanes, ... (i < len) in that order, in
//   double, from +0;
//   then the lanes are added in a pairwise tree over neighbours: lane 2m + 1
//   into lane 2m, then 4m + 2 into 4m, ..., until lane 0 holds the sum.
// A product of two floats is exact in double, so a fused multiply-add gives the
// same bits as a product then a sum. On the GPU a bucket is one block of
// kSumLanes / 4 threads and thread t holds lanes 4t..4t+3 (its 16-byte chunks
// at 4t + kSumLanes k): its own four lanes, then warp shuffles, then the warps
// are the same tree. Values a short bucket lacks add nothing either way (a lane
// sum is never -0, so adding +-0 leaves it as it is).
// Header-only: compressors/*/*.cpp globbing finds nothing to build here.
#pragma once

#include <cstddef>

namespace gw {
namespace eden {

constexpr size_t kSumLanes = 2048;

inline double bucket_sum(const float* a, const float* b, size_t len) {
  double s[kSumLanes] = {};
  for (size_t base = 0; base < len; base += kSumLanes) {
    const size_t m = len - base < kSumLanes ? len - base : kSumLanes;
    for (size_t l = 0; l < m; ++l) s[l] += static_cast<double>(a[base + l]) * b[base + l];  // vectorizes over l
  }
  for (size_t h = 1; h < kSumLanes; h *= 2)
    for (size_t l = 0; l < kSumLanes; l += 2 * h) s[l] += s[l + h];
  return s[0];
}

}  // namespace eden
}  // namespace gw
