// "powersgd:rank=R,warm=1,min_rate=2,start=0,factors=fp32" (+ ef=1, the
// default, or ef=0): low-rank compression of a layer viewed as a matrix
// (Vogels, Karimireddy, Jaggi, NeurIPS 2019), as PyTorch's powerSGD_hook runs it.
//
// The layer's shape hint (gw_layer_set_shape) gives the view M, rows =
// shape[0] and cols = count / rows (conv weights: out x in*kh*kw). With
// error feedback M = G + E. Per call, r = min(rows, cols, R):
//   round 0: Q <- orthonormalize(Q); send P = M Q            (rows x r)
//            P <- orthonormalize(sum of the P)
//   round 1: send Q = M^T P                                   (cols x r)
//            Q <- (sum of the Q) / ranks                       (kept: warm start)
//            result = P Q^T (times ranks for GW_SUM); E = M - P Q^T
// The first Q (and with warm=0 every Q) is N(0, 1) from a key shared by all
// ranks (seed, step, layer), so every rank holds the same Q and P, and the
// results are bit-identical. A layer goes exactly (in the call's first
// exchange, with the other layers) when it is a vector or has no shape hint,
// when (rows + cols) r min_rate >= rows cols (compression would not pay), and
// during its first `start` calls. factors=fp16|bf16 sends P and Q in 16 bits
// (summed in fp32).
//
// State (scheme/layer_state.h): E (count floats, with ef=1), then Q
// (cols x r, column-major), from the layer's first call on, so a checkpoint
// holds the Q the next compressed step starts from.
#pragma once

#include <memory>
#include <string>

#include "src/scheme/round_scheme_compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kPowerSgdCompressorId = 9;

struct PowerSgdParams {
  int rank = 4;
  bool warm = true;
  double min_rate = 2.0;
  uint64_t start = 0;
  std::string factors = "fp32";  // fp32 | fp16 | bf16
};

class PowerSgdCompressor final : public RoundSchemeCompressor {
 public:
  explicit PowerSgdCompressor(const PowerSgdParams& p);

  uint16_t id() const override { return kPowerSgdCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;

  RoundLayout layout(const std::vector<int64_t>& shape, size_t count, uint64_t step, int ranks) const override;
  // With CUDA and cuBLAS in the build: device buffers keep their state (E, Q)
  // in GPU memory and run every step there (low_rank_device.h).
  bool runs_on_device() const override;
  void init_state(const RoundCall& c) const override;
  void produce(const RoundCall& c, int round) const override;
  void consume(const RoundCall& c, int round) const override;
  const std::shared_ptr<const Compressor>& factor_codec() const override { return factor_codec_; }

 private:
  const float* matrix(const RoundCall& c) const { return c.residual ? c.residual : c.in; }

  PowerSgdParams p_;
  std::string spec_;
  std::shared_ptr<const Compressor> factor_codec_;
};

void register_powersgd(Registry& r);

}  // namespace gw
