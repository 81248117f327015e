// "eden:bits=B" (B = 1..8): EDEN (Vargaftik et al., ICML 2022), rotation-based
// quantization for distributed mean estimation.
//
// Every rank rotates its layer with the same randomized Hadamard transform
// (compressors/common/hadamard.h, a key shared by all ranks and new every call;
// the last partial block zero-padded to a power of two, so every block is
// long), so the rotated coordinates are close to Gaussian whatever the input
// looks like. Each bucket of kBucket rotated values y (one Hadamard block: the
// whole blocks of 16 Ki, then the padded last one) is sent as one float32 scale S
// and one B-bit code per value: code i is the Lloyd-Max level of a standard
// normal nearest to y_i / sigma (sigma = ||y|| / sqrt(len)), and
// S = ||y||^2 / <y, levels>, the scale that makes the estimate unbiased over
// rotations (EDEN's unbiasing: the decoded bucket S * levels has the same
// projection on y as y itself). The receivers sum the decoded buckets in the
// rotated domain and rotate the sum back once. EDEN's unbiasedness is exact for
// uniformly random rotations; the Hadamard rotation (random signs, then a fixed
// Hadamard matrix) makes it so only approximately: the bias is far below the
// estimate's own spread on ordinary inputs, largest for a few large spikes
// (tests/unit/eden_test.cpp measures both). A round scheme with one round
// (scheme/round_codec.h): the rotated vector is its round-0 vector and
// EdenLevels below is the codec it travels in.
//
// On the GPU: EdenLevels has a CUDA twin (eden.cu, payloads byte-identical) and
// the rotation one (compressors/common/hadamard_device.h, bit-identical). The
// round scheme itself runs on the host (the engine stages device buffers), so
// nothing in a call uses them yet; they are what a device-resident eden path
// will be built from. The two sums of each bucket's scale follow eden_sum.h's
// fixed order, which the CPU and the GPU both repeat.
//
// Payload of n rotated values (EdenLevels, fixed size; the PackedLevels layout
// of the bucket quantizers): nb = ceil(n / kBucket) float32 scales, then each
// bucket's codes packed LSB-first (compressors/common/bitpack.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/core/compressor.h"
#include "src/scheme/round_scheme_compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kEdenCompressorId = 10;
constexpr uint16_t kEdenLevelsCompressorId = 11;

namespace eden {
constexpr size_t kBucket = 16384;  // hadamard::kMaxBlock: a bucket is one rotation block
// The 2^bits Lloyd-Max levels of N(0, 1), ascending (computed once per width).
const std::vector<float>& lloyd_max_levels(int bits);
}  // namespace eden

// The rotated-domain codec (never named in a spec; the wire's spec of a round
// vector names its scheme).
class EdenLevels final : public Compressor {
 public:
  explicit EdenLevels(int bits);
  uint16_t id() const override { return kEdenLevelsCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override;
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;
  bool packed_levels(PackedLevels* out) const override;

  int bits() const { return bits_; }
  const std::vector<float>& levels() const { return levels_; }
  // The 2^bits - 1 midpoints: a value's code is how many of them lie at or below it.
  const std::vector<float>& thresholds() const { return thresholds_; }

 private:
  template <bool kAdd>
  void decode_impl(const uint8_t* in, size_t bytes, size_t n, float* out) const;
  int bits_;
  const std::vector<float>& levels_;
  std::vector<float> thresholds_;  // midpoints between neighbouring levels
  std::string spec_;
};

class EdenCompressor final : public RoundSchemeCompressor {
 public:
  explicit EdenCompressor(int bits);
  uint16_t id() const override { return kEdenCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;

  RoundLayout layout(const std::vector<int64_t>& shape, size_t count, uint64_t step, int ranks) const override;
  void init_state(const RoundCall&) const override {}
  void produce(const RoundCall& c, int round) const override;
  void consume(const RoundCall& c, int round) const override;
  const std::shared_ptr<const Compressor>& factor_codec() const override { return levels_; }

 private:
  std::string spec_;
  std::shared_ptr<const Compressor> levels_;
};

void register_eden(Registry& r);

}  // namespace gw
