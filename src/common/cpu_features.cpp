#include "src/common/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include "src/common/log.h"

namespace gw {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  f.fma = __builtin_cpu_supports("fma");
  f.avx2 = __builtin_cpu_supports("avx2") && f.fma;
  // CPUID.1:ECX.F16C (bit 29) read directly: clang before 16 rejects
  // __builtin_cpu_supports("f16c") at compile time.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  f.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

CpuIsa best_supported() {
  if (cpu_isa_supported(CpuIsa::AVX512)) return CpuIsa::AVX512;
  if (cpu_isa_supported(CpuIsa::AVX2)) return CpuIsa::AVX2;
  return CpuIsa::SCALAR;
}

CpuIsa clamp(CpuIsa want) {
  while (!cpu_isa_supported(want)) want = static_cast<CpuIsa>(static_cast<int>(want) - 1);
  return want;
}

CpuIsa initial_isa() {
  CpuIsa isa = best_supported();
  const char* v = std::getenv("GW_CPU_ISA");
  if (v && *v) {
    CpuIsa want = isa;
    if (!strcasecmp(v, "scalar")) {
      want = CpuIsa::SCALAR;
    } else if (!strcasecmp(v, "avx2")) {
      want = CpuIsa::AVX2;
    } else if (!strcasecmp(v, "avx512")) {
      want = CpuIsa::AVX512;
    } else {
      GW_LOG(WARN, "GW_CPU_ISA=", v, " is not scalar|avx2|avx512; using ", cpu_isa_name(isa));
      return isa;
    }
    isa = clamp(want);
    if (isa != want)
      GW_LOG(WARN, "GW_CPU_ISA=", v, " is not supported by this CPU; using ", cpu_isa_name(isa));
  }
  GW_LOG(INFO, "CPU codec path: ", cpu_isa_name(isa));
  return isa;
}

std::atomic<int> g_isa{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool cpu_isa_supported(CpuIsa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case CpuIsa::SCALAR:
      return true;
    case CpuIsa::AVX2:
      return f.avx2 && f.fma && f.f16c;
    case CpuIsa::AVX512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl;
  }
  return false;
}

CpuIsa cpu_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    static const CpuIsa initial = initial_isa();
    int expected = -1;
    g_isa.compare_exchange_strong(expected, static_cast<int>(initial));
    v = g_isa.load(std::memory_order_relaxed);
  }
  return static_cast<CpuIsa>(v);
}

CpuIsa set_cpu_isa_for_testing(CpuIsa isa) {
  CpuIsa got = clamp(isa);
  g_isa.store(static_cast<int>(got));
  return got;
}

void reset_cpu_isa_for_testing() {
  g_isa.store(-1);
  cpu_isa();
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::SCALAR:
      return "scalar";
    case CpuIsa::AVX2:
      return "avx2";
    case CpuIsa::AVX512:
      return "avx512";
  }
  return "?";
}

}  // namespace gw
