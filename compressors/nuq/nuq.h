// "nuq:bits=B,bucket=S" — NUQSGD (Ramezani-Kebrya et al., JMLR 2021): qsgd with
// norm=l2 and exponentially spaced magnitude levels.
//
// Defaults bits=4, bucket=512; bits in 2..8 (sign included: s = 2^(B-1)-1 nonzero
// levels; bits=1 is rejected), bucket in 64..8192. Levels, in units of the
// bucket's l2 norm: {0, 2^-(s-1), ..., 1/4, 1/2, 1}, i.e. g(0) = 0, g(l) = 2^(l-s).
// Each |v_i| / norm is rounded stochastically to one of its two neighbouring
// levels, so E[decode(encode(x))] == x up to float rounding. Finer than qsgd near
// zero, coarser near the norm: lower variance for Gaussian-like buckets at low bit
// widths (at 8 bits qsgd's 127 uniform levels win; see the tests).
//
// Per bucket of values v (the quantizer engine of qsgd/qsgd_kernels.h):
//   scale = ||v||_2 (exactly as qsgd norm=l2),  inv = 1 / scale
//   y_i   = min(|v_i| * inv, 1)
//   y_i >= 2^(1-s): k = exponent(y_i) + s (>= 1), y_i = 2^(k-s) (1 + m/2^23) with m
//                   its 23 mantissa bits; l_i = k + [U_i * 2^7 < m]
//   y_i <  2^(1-s): l_i = [u_i < y_i * 2^(s-1)]
//   with U_i = rng_sr16(key, i) (16 bits, common/rng.h) and u_i = U_i * 2^-16
//   code  = l_i | sign_i << (B-1)           sign_i = v_i < 0, and 0 when l_i = 0
//   value = +-(scale * 2^(l_i - s))         (0 for l_i = 0; 2^(l-s) built from bits)
// Every path (scalar, AVX2, AVX-512, CUDA) computes exactly this; the comparisons
// are exact, so payloads and decodes are bit-identical.
// Special cases and the payload layout are qsgd's (qsgd/qsgd.h): one float32 scale
// per bucket first, then per bucket ceil(len*B/8) bytes of LSB-first packed codes
// (level in bits 0..B-2, sign in bit B-1); scale < 2^-118 -> 0 (decodes to zeros);
// a NaN/Inf bucket sets *nonfinite, stores scale NaN and decodes to NaN.
//   encoded_bytes(n) = 4*nb + (n / S) * P + ceil((n % S) * B / 8),  P = ceil(S*B/8).
// lossless=elias|zstd works as for qsgd (compressors/lossless/lossless.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "compressors/qsgd/qsgd.h"

namespace gw {

class Registry;

constexpr uint16_t kNuqCompressorId = 6;

struct NuqParams {
  int bits = 4;
  int bucket = 512;
};

class NuqCompressor final : public QsgdEngineCompressor {
 public:
  explicit NuqCompressor(NuqParams p);
  const NuqParams& params() const { return p_; }

 private:
  NuqParams p_;
};

void register_nuq(Registry& r);

}  // namespace gw
