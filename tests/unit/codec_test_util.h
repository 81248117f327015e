// Helpers shared by the codec unit tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"

namespace gw {
namespace test {

// Every CPU codec path this machine can run (scalar first: the reference).
inline std::vector<CpuIsa> runnable_isas() {
  std::vector<CpuIsa> v;
  for (CpuIsa isa : {CpuIsa::SCALAR, CpuIsa::AVX2, CpuIsa::AVX512})
    if (cpu_isa_supported(isa)) v.push_back(isa);
  return v;
}

// Forces one path for the lifetime of the guard.
class IsaGuard {
 public:
  explicit IsaGuard(CpuIsa isa) { set_cpu_isa_for_testing(isa); }
  ~IsaGuard() { reset_cpu_isa_for_testing(); }
  IsaGuard(const IsaGuard&) = delete;
  IsaGuard& operator=(const IsaGuard&) = delete;
};

inline uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Bitwise equality of float arrays (NaN == NaN when the bits agree).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || memcmp(a.data(), b.data(), 4 * a.size()) == 0);
}

}  // namespace test
}  // namespace gw
