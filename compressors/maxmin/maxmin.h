// "maxmin:bits=B,bucket=S" — the min/max stochastic quantizer of CGX.
//
// Defaults bits=4, bucket=512; bits in 1..8, bucket in 64..8192 (any value; the
// last bucket may be partial). Unbiased: E[decode(encode(x))] == x up to float
// rounding, and |decode - x| <= scale for every element.
//
// Per bucket of values v (L = 2^B - 1 levels above the minimum):
//   min   = min(v),  scale = (max(v) - min) / L,  inv = 1 / scale
//   l_i   = trunc(min(fma(v_i - min, inv, u_i), L))      u_i = rng_sr16(key, i) * 2^-16 (common/rng.h)
//   value = fma(scale, l_i, min)
// with i the index of the element within the encode call, taken mod 2^32 (so the
// bits do not depend on how work is split; callers chunk long buffers and give each
// chunk its own key). Every path (scalar, AVX2, AVX-512, and a GPU twin) must use
// exactly these float operations, with explicit fma (so -ffp-contract / nvcc's
// fmad contraction cannot change a result), so payloads are bit-identical.
// Kernels: maxmin.cpp (scalar reference, dispatch), maxmin_avx2.cpp,
// maxmin_avx512.cpp; the path comes from cpu_isa() (GW_CPU_ISA forces one).
// Special cases, all deterministic:
//   - min is stored as +0.0 when it is a zero of either sign;
//   - scale < FLT_MIN (constant bucket, or a range too small to represent): scale
//     = 0 and all levels 0: the bucket decodes to min (exact for constant buckets);
//   - a range overflowing float saturates scale at FLT_MAX (finite but biased);
//   - nonfinite=propagate: a bucket holding a NaN or +-Inf sets *nonfinite and is
//     stored as min = NaN (0x7fc00000), scale = 0, all levels 0, so the whole bucket
//     decodes to NaN.
//
// Payload layout for n values (nb = ceil(n / S) buckets, fixed size for given n):
//   [nb x {float32 min, float32 scale}]            8 * nb bytes, little-endian
//   [bucket 0 levels][bucket 1 levels]...           bucket j at 8*nb + j*P, P = ceil(S*B/8)
// A bucket of len values has ceil(len*B/8) bytes of levels (len = S except for the
// last bucket), bit-packed LSB-first: level k of the bucket occupies bits
// [k*B, k*B + B) of the bucket's little-endian bit string (bit m is bit m%8 of
// byte m/8), so with B=4 byte k holds levels 2k (low nibble) and 2k+1 (high).
// Unused high bits of a bucket's last byte are zero.
//   encoded_bytes(n) = 8*nb + (n / S) * P + ceil((n % S) * B / 8).
// With lossless=elias|zstd (read by the registry, default none) this payload is
// re-coded by compressors/lossless/ (CPU only, variable size); elias ranks the
// unsigned levels around each bucket's most frequent level (lossless/elias.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kMaxMinCompressorId = 4;

struct MaxMinParams {
  int bits = 4;
  int bucket = 512;
};

class MaxMinCompressor final : public Compressor {
 public:
  explicit MaxMinCompressor(MaxMinParams p);

  uint16_t id() const override { return kMaxMinCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override;
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;
  // 8-byte {min, scale} per bucket, unsigned levels 0..2^B-1 (the lossless stage).
  bool packed_levels(PackedLevels* out) const override;

  const MaxMinParams& params() const { return p_; }

 private:
  MaxMinParams p_;
  std::string spec_;
};

void register_maxmin(Registry& r);

}  // namespace gw
