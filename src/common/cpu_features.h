// Runtime CPU feature detection for the CPU codecs' SIMD paths (FAISS-style:
// each kernel has a scalar reference and AVX2 / AVX-512 twins that give
// identical bits; the path is picked once per call from cpu_isa()).
//
// GW_CPU_ISA=scalar|avx2|avx512 forces a path (tests use it, and
// set_cpu_isa_for_testing(), to check that all paths agree bit for bit).
// A forced path the CPU lacks falls back to the best one it has.
#pragma once

namespace gw {

enum class CpuIsa : int { SCALAR = 0, AVX2 = 1, AVX512 = 2 };

struct CpuFeatures {
  bool avx2 = false;      // with FMA (Haswell and later, Zen)
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;   // the AVX512 path needs f + bw + vl
  bool avx512bw = false;
  bool avx512vl = false;
};

// Detected once and cached (never changes).
const CpuFeatures& cpu_features();

// True when this CPU can run `isa` (SCALAR always can).
bool cpu_isa_supported(CpuIsa isa);

// The path kernels use now: the best supported one, or GW_CPU_ISA's choice
// (clamped to what the CPU supports). Cheap (one relaxed atomic load).
CpuIsa cpu_isa();

// Tests: force a path (clamped to what the CPU supports); returns the path set.
CpuIsa set_cpu_isa_for_testing(CpuIsa isa);
// Tests: back to the detected / GW_CPU_ISA choice.
void reset_cpu_isa_for_testing();

const char* cpu_isa_name(CpuIsa isa);

}  // namespace gw
