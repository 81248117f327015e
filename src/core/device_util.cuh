// Internal to the CUDA codecs (.cu files only): error checks, launch sizing and
// small load/store helpers shared by the device twins of the compressors.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "src/common/error.h"

namespace gw {
namespace devutil {

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Throws GW_ERR_SYSTEM naming the CUDA error (never synchronizes).
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(GW_ERR_SYSTEM, "CUDA error in ", what, ": ", cudaGetErrorString(e));
}
// After a launch: configuration errors are reported at once, without a sync.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

// Multiprocessors of the current device (cached per device id; no sync).
int sm_count();

// Blocks for a grid-stride loop over `work` items handled `per_block` at a time.
inline unsigned grid_for(size_t work, size_t per_block, int blocks_per_sm = 8) {
  size_t need = (work + per_block - 1) / per_block;
  size_t cap = static_cast<size_t>(sm_count()) * static_cast<size_t>(blocks_per_sm);
  size_t g = need < cap ? need : cap;
  return static_cast<unsigned>(g > 0 ? g : 1);
}

inline bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

// nbytes (0..8) little-endian bytes of v to p, as wide as p's alignment allows.
__device__ __forceinline__ void store_bytes(uint8_t* p, uint64_t v, int nbytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (nbytes == 8 && (a & 7) == 0) {
    *reinterpret_cast<uint64_t*>(p) = v;
  } else if (nbytes == 4 && (a & 3) == 0) {
    *reinterpret_cast<uint32_t*>(p) = static_cast<uint32_t>(v);
  } else if (nbytes == 2 && (a & 1) == 0) {
    *reinterpret_cast<uint16_t*>(p) = static_cast<uint16_t>(v);
  } else {
    for (int k = 0; k < nbytes; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
  }
}

// nbytes (0..8) little-endian bytes from p (bytes past nbytes read as 0).
__device__ __forceinline__ uint64_t load_bytes(const uint8_t* p, int nbytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (nbytes == 8 && (a & 7) == 0) return __ldg(reinterpret_cast<const unsigned long long*>(p));
  if (nbytes == 4 && (a & 3) == 0) return __ldg(reinterpret_cast<const unsigned int*>(p));
  if (nbytes == 2 && (a & 1) == 0) return __ldg(reinterpret_cast<const unsigned short*>(p));
  uint64_t v = 0;
  for (int k = 0; k < nbytes; ++k) v |= static_cast<uint64_t>(__ldg(p + k)) << (8 * k);
  return v;
}

__device__ __forceinline__ bool nonfinite_bits(float f) {
  return (__float_as_uint(f) & 0x7f800000u) == 0x7f800000u;
}

}  // namespace devutil
}  // namespace gw
