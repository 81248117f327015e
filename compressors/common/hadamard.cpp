#include "compressors/common/hadamard.h"

#include <cmath>
#include <cstring>

namespace gw {
namespace hadamard {
namespace {

// AVX2 and baseline clones, picked once by the loader (GCC/Clang ifunc): the
// same additions and sign flips in the same order, so the same bits either way.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_HADAMARD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GW_HADAMARD_CLONES
#endif

// The butterfly levels of stride 1, 2 and 4 on each group of 8 values, in registers.
GW_HADAMARD_CLONES void first_levels(float* x, size_t len) {
  for (size_t i = 0; i + 8 <= len; i += 8) {
    float* v = x + i;
    const float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
    const float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
    const float b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
    const float b4 = a4 + a6, b6 = a4 - a6, b5 = a5 + a7, b7 = a5 - a7;
    v[0] = b0 + b4, v[4] = b0 - b4, v[1] = b1 + b5, v[5] = b1 - b5;
    v[2] = b2 + b6, v[6] = b2 - b6, v[3] = b3 + b7, v[7] = b3 - b7;
  }
}

// Butterfly levels of stride h for h in [h_from, h_to) over x[0..len). Every
// level runs in increasing stride order, so each output's additions happen in
// one fixed order (what a GPU twin must repeat to give the same bits).
GW_HADAMARD_CLONES void passes(float* x, size_t len, size_t h_from, size_t h_to) {
  size_t h = h_from;
  if (h == 1 && len >= 8 && h_to >= 8) {
    first_levels(x, len);
    h = 8;
  }
  // Two levels (h, 2h) per pass over memory: the same additions as one level
  // at a time, in the same order, with half the loads and stores.
  for (; 4 * h <= h_to; h *= 4)
    for (size_t i = 0; i < len; i += 4 * h) {
      float* __restrict p0 = x + i;
      float* __restrict p1 = x + i + h;
      float* __restrict p2 = x + i + 2 * h;
      float* __restrict p3 = x + i + 3 * h;
      for (size_t j = 0; j < h; ++j) {
        const float a = p0[j] + p1[j], b = p0[j] - p1[j], c = p2[j] + p3[j], d = p2[j] - p3[j];
        p0[j] = a + c;
        p2[j] = a - c;
        p1[j] = b + d;
        p3[j] = b - d;
      }
    }
  for (; h < h_to; h *= 2)
    for (size_t i = 0; i < len; i += 2 * h) {
      float* __restrict lo = x + i;
      float* __restrict hi = x + i + h;
      for (size_t j = 0; j < h; ++j) {  // contiguous, no aliasing: vectorized
        const float a = lo[j], b = hi[j];
        lo[j] = a + b;
        hi[j] = a - b;
      }
    }
}

// Passes of stride below kL1 run sub-block by sub-block while it is in L1.
constexpr size_t kL1 = 2048;  // 8 KiB

// Flips the sign bit where the key's bit is set: no branch (half of them
// would be mispredicted), exact, and NaN keeps its payload.
GW_HADAMARD_CLONES void apply_signs(float* x, size_t n, uint64_t key) {
  for (size_t i = 0; i < n; i += 32) {
    const uint32_t bits = rng_u32(key, static_cast<uint32_t>(i >> 5));
    const size_t end = i + 32 < n ? i + 32 : n;
    for (size_t k = i; k < end; ++k) {
      uint32_t u;
      std::memcpy(&u, x + k, 4);
      u ^= ((bits >> (k - i)) & 1u) << 31;
      std::memcpy(x + k, &u, 4);
    }
  }
}

}  // namespace

void transform_block(float* x, size_t len) {
  if (len <= 1) return;
  const size_t sub = len < kL1 ? len : kL1;
  for (size_t s = 0; s < len; s += sub) passes(x + s, sub, 1, sub);
  passes(x, len, sub, len);
  const float scale = block_scale(len);
  for (size_t i = 0; i < len; ++i) x[i] *= scale;
}

void rotate(float* x, size_t n, uint64_t key) {
  apply_signs(x, n, key);
  for_each_block(n, [&](size_t first, size_t len) { transform_block(x + first, len); });
}

void unrotate(float* x, size_t n, uint64_t key) {
  for_each_block(n, [&](size_t first, size_t len) { transform_block(x + first, len); });
  apply_signs(x, n, key);
}

}  // namespace hadamard
}  // namespace gw
