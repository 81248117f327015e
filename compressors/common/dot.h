// sum a[i] b[i] in double with four accumulators, in a fixed order: the same
// bits on every rank and machine (what the shared side of powersgd needs),
// without one long chain of dependent adds. eden's scales use their own fixed
// order (compressors/eden/eden_sum.h), one its GPU twin repeats.
#pragma once

#include <cstddef>

namespace gw {

inline double dot4(const float* a, const float* b, size_t n) {
  double s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) s[l] += static_cast<double>(a[i + l]) * b[i + l];
  for (; i < n; ++i) s[0] += static_cast<double>(a[i]) * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace gw
