// "lattice:bits=B,eps=auto|E,rotate=0|1" (B = 2..8): lattice-based distributed
// mean estimation (Davies et al., ICLR 2021; ALGORITHMS.md), the practical
// cubic-lattice form. Its error depends on how far the ranks' inputs are from
// each other, not on how large they are: a common offset of 1e6 changes nothing.
//
// Each rank sends, per coordinate, only z mod q (q = 2^B), where z is the
// stochastic rounding of (x - theta) / eps to an integer (unbiased) and theta
// a dither in [0, eps) from the sender's key. A receiver decodes against its
// own vector w: z' is the integer = z (mod q) nearest to (w - theta) / eps,
// which is z exactly when |x - w| < eps (q/2 - 1) in every coordinate. Every
// rank decodes every payload (the allgather form) and sums the decoded values
// theta + eps z' in rank order, so when every decode is exact every rank holds
// the bit-identical sum.
//
// A decode that went wrong is never silent: each unit of kUnit values carries
// two 32-bit hashes of its integers z (sealed with the unit's spacing and
// the sender's key, so damage to those is seen too), which the receiver
// compares with those of its z'. The ranks then share which units some receiver missed (one small
// exchange) and re-send just those with a 16x larger spacing, up to
// kMaxResends times (counted in the layer's decode_retries); a unit still
// missed after that is GW_ERR_CORRUPT naming the senders, on every rank.
//
// The spacing: eps=E fixes it; eps=auto (the default) takes it from the
// spread of the inputs, in one small exchange before the codes: every rank
// sends its values at a few positions from the shared key (one per 256
// values, between 64 and kSamples), and eps =
// 2 D / (q - 2) with D a bound on the pairwise distance: the largest spread
// seen, or 2 sigma sqrt(2 ln(n d)) when larger (sigma: the RMS distance of the
// samples from their mean; the tail bound of Gaussian differences, which the
// rotation makes them). An underestimate costs a re-send, not a wrong mean.
//
// rotate=1 (the default) applies the randomized Hadamard transform first
// (compressors/common/hadamard.h, key shared by all ranks), which turns a few
// large differences into many small ones (l_inf ~ l_2 sqrt(log d / d)), so the
// spacing, and the error, shrink for gradients whose ranks differ in a few
// coordinates. It works in fp32, so values far from zero (a common offset of
// 1e6) carry the rotation's rounding into the result; rotate=0 is exact about
// any offset.
//
// One call: [samples (eps=auto)] -> codes -> check, then per re-send: codes ->
// check. A round scheme (src/scheme/round_codec.h): the samples and the check
// travel exactly ("none"), the codes in LatticeCodes below.
#pragma once

#include <memory>
#include <string>

#include "src/core/compressor.h"
#include "src/scheme/round_scheme_compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kLatticeCompressorId = 12;
constexpr uint16_t kLatticeCodesCompressorId = 13;

namespace lattice {
constexpr size_t kUnit = 4096;      // values per hash (and per re-send)
constexpr size_t kSamples = 1024;   // the most positions each rank samples for eps=auto
constexpr int kMaxResends = 3;      // each with 16x the spacing
constexpr float kResendGrowth = 16.0f;
// Units of a round vector of n floats: [spacing of each unit][the values].
inline size_t units_of(size_t n) { return (n + kUnit) / (kUnit + 1); }
}  // namespace lattice

// The codes of one round vector: n floats = u unit spacings, then n - u
// values (units of kUnit, the last one shorter). Payload (fixed size):
//   u64 sender's key | per unit: f32 spacing, two u32 hashes of its integers |
//   per unit: its B-bit codes packed LSB-first (compressors/common/bitpack.h)
// A unit whose input holds NaN/Inf is sent with a NaN spacing and decodes to
// NaN (the nonfinite policy applies). Never named in a spec.
class LatticeCodes final : public Compressor {
 public:
  explicit LatticeCodes(int bits);
  uint16_t id() const override { return kLatticeCodesCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override;
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;
  void decode_near(const uint8_t* in, size_t bytes, size_t n, const float* ref, float* out, bool add,
                   std::vector<uint32_t>* missed) const override;

 private:
  int bits_;
  std::string spec_;
};

class LatticeCompressor final : public RoundSchemeCompressor {
 public:
  LatticeCompressor(int bits, double eps, bool rotate);  // eps <= 0: auto
  uint16_t id() const override { return kLatticeCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;

  RoundLayout layout(const std::vector<int64_t>& shape, size_t count, uint64_t step, int ranks) const override;
  void init_state(const RoundCall&) const override {}
  void produce(const RoundCall& c, int round) const override;
  void consume(const RoundCall& c, int round) const override;
  int next_round(const RoundCall& c, int round, size_t* elems) const override;
  const std::shared_ptr<const Compressor>& factor_codec() const override { return codes_; }
  const std::shared_ptr<const Compressor>& round_vector_codec(int round) const override;

 private:
  int first_codes_round() const { return eps_ > 0 ? 0 : 1; }
  void estimate_spacing(const RoundCall& c) const;

  int bits_;
  double eps_;
  bool rotate_;
  std::string spec_;
  std::shared_ptr<const Compressor> codes_, exact_;
};

void register_lattice(Registry& r);

}  // namespace gw
