// "qsgd:bits=B,bucket=S,norm=l2|max" — QSGD (Alistarh et al., NeurIPS 2017);
// norm=max is the practical "QSGDinf".
//
// Defaults bits=4, bucket=512, norm=l2; bits in 2..8 (sign included: s = 2^(B-1)-1
// magnitude levels; bits=1 is rejected), bucket in 64..8192 (the last bucket may be
// partial). Unbiased: E[decode(encode(x))] == x up to float rounding; with
// norm=l2, E||Q(v) - v||^2 <= min(d/s^2, sqrt(d)/s) ||v||^2 per bucket of d values.
//
// Per bucket of values v:
//   scale = ||v||_2 (norm=l2, computed exactly: see qsgd_kernels.h) or max|v_i|
//   inv   = s / scale,  dec = scale / s                   (float divisions)
//   l_i   = trunc(min(fma(|v_i|, inv, u_i), s))           u_i = rng_sr16(key, i) * 2^-16 (common/rng.h)
//   code  = l_i | sign_i << (B-1)                         sign_i = v_i < 0, and 0 when l_i = 0
//   value = +-(dec * l_i)                                 (the sign bit or-ed in)
// with i the index of the element within the encode call, mod 2^32 (as maxmin).
// All paths (scalar, AVX2, AVX-512, the CUDA twin) use these float operations
// with explicit fma, so payloads and decodes are bit-identical. Kernels:
// qsgd.cpp (scalar reference, dispatch), qsgd_avx2.cpp, qsgd_avx512.cpp, qsgd.cu;
// they are shared with nuq (nuq/nuq.h), which differs only in its levels.
// Special cases, all deterministic:
//   - scale < 2^-118 (a bucket of zeros, or of tiny values): scale = 0, all codes
//     0: the bucket decodes to +0 (exact for zeros);
//   - an l2 norm overflowing float saturates at FLT_MAX (finite, slightly biased);
//   - a bucket holding a NaN or +-Inf sets *nonfinite and is stored as scale = NaN
//     (0x7fc00000), all codes 0, so the whole bucket decodes to NaN.
//
// Payload layout for n values (nb = ceil(n / S) buckets, fixed size for given n):
//   [nb x float32 scale]                             4 * nb bytes, little-endian
//   [bucket 0 codes][bucket 1 codes]...              bucket j at 4*nb + j*P, P = ceil(S*B/8)
// A bucket of len values has ceil(len*B/8) bytes of codes, bit-packed LSB-first:
// code k occupies bits [k*B, k*B + B) of the bucket's little-endian bit string
// (bit m is bit m%8 of byte m/8); within a code, bits 0..B-2 are the level and bit
// B-1 the sign (1 = negative). With B=4 byte k holds codes 2k (low nibble) and
// 2k+1 (high). Unused high bits of a bucket's last byte are zero.
//   encoded_bytes(n) = 4*nb + (n / S) * P + ceil((n % S) * B / 8).
// With lossless=elias|zstd (read by the registry, default none) this payload is
// re-coded by compressors/lossless/ (CPU only, variable size); packed_levels()
// describes the layout to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kQsgdCompressorId = 5;

enum class QsgdNorm : int { L2 = 0, MAX = 1 };

struct QsgdParams {
  int bits = 4;
  int bucket = 512;
  QsgdNorm norm = QsgdNorm::L2;
};

// The codec engine that qsgd and nuq share (qsgd_kernels.h): one per-bucket
// l2/max scale, signed levels, the same payload layout. The two differ only in
// their levels (levels_kind is a qsgd::Kind), so they differ only in how they
// are constructed.
class QsgdEngineCompressor : public Compressor {
 public:
  uint16_t id() const override { return id_; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override;
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;
  // 4-byte scales, sign-magnitude codes, levels 0..2^(B-1)-1 (the lossless stage).
  bool packed_levels(PackedLevels* out) const override;

 protected:
  // Checks bits (2..8, sign included) and bucket (64..8192), naming `family`.
  QsgdEngineCompressor(uint16_t id, const char* family, int levels_kind, int bits, int bucket, std::string spec);

 private:
  uint16_t id_;
  int kind_, bits_, bucket_;
  std::string spec_;
};

class QsgdCompressor final : public QsgdEngineCompressor {
 public:
  explicit QsgdCompressor(QsgdParams p);
  const QsgdParams& params() const { return p_; }

 private:
  QsgdParams p_;
};

void register_qsgd(Registry& r);

}  // namespace gw
