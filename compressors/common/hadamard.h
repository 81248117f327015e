// The randomized Hadamard transform (RHT) of the rotation-based codecs (EDEN,
// lattice with rotate=1; ALGORITHMS.md): x -> H D x, with D a diagonal of
// random signs from a key all ranks share and H the orthonormal Walsh-Hadamard
// matrix, block by block.
//
// Any count works, with no padding: the vector is cut into blocks of kMaxBlock
// values and a remainder that is split into its binary digits, largest first
// (1000 = 512 + 256 + 128 + 64 + 32 + 8), each block with its own power-of-two
// transform. The whole is orthonormal (a block-diagonal of orthonormal
// blocks), so rotate() keeps norms and unrotate() undoes it to rounding; a
// count that is not a power of two loses only in how well the last few values
// are mixed. Element i's sign is bit i % 32 of rng_u32(key, i / 32), so any
// split of the work gives the same signs, on the CPU and on the GPU.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "src/common/rng.h"

namespace gw {
namespace hadamard {

// 16 Ki floats (64 KiB): a block stays in L2 through its log2 passes.
constexpr size_t kMaxBlock = size_t(1) << 14;

// f(first, length) for each block of a vector of n values, in order.
template <typename F>
void for_each_block(size_t n, F&& f) {
  size_t at = 0;
  for (; n - at >= kMaxBlock; at += kMaxBlock) f(at, kMaxBlock);
  const size_t rest = n - at;
  for (size_t b = kMaxBlock / 2; b >= 1; b >>= 1) {
    if (rest & b) {
      f(at, b);
      at += b;
    }
  }
}

// The length a vector of n values has once its last partial block is padded
// with zeros to a power of two (the codecs that want every block long, EDEN):
// whole kMaxBlock blocks, then one power-of-two block; at most 2n - 1.
inline size_t padded_count(size_t n) {
  const size_t whole = n / kMaxBlock * kMaxBlock, rest = n - whole;
  size_t p = rest ? 1 : 0;
  while (p && p < rest) p *= 2;
  return whole + p;
}

// +1 or -1 for element i under key.
inline float sign(uint64_t key, size_t i) {
  return ((rng_u32(key, static_cast<uint32_t>(i >> 5)) >> (i & 31)) & 1u) ? -1.0f : 1.0f;
}

// In place: x <- H D x (rotate) and x <- D H x, its inverse (unrotate).
void rotate(float* x, size_t n, uint64_t key);
void unrotate(float* x, size_t n, uint64_t key);

// The orthonormal Walsh-Hadamard transform of one power-of-two block, in place
// (its own inverse).
void transform_block(float* x, size_t len);

// The factor that makes a block of len (>= 2) orthonormal, applied after the
// butterflies: one float product per value (the GPU twin,
// hadamard_device.h, multiplies by this same float).
inline float block_scale(size_t len) { return 1.0f / std::sqrt(static_cast<float>(len)); }

}  // namespace hadamard
}  // namespace gw
