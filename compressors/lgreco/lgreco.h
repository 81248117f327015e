// "lgreco:family=F,bits=B1|B2|...,bucket=S1|S2|...,warmup=W,period=P,alpha=A":
// L-GreCo (Alimohammadi, Markov, Frantar, Alistarh; ALGORITHMS.md), per-layer
// adaptive compression over a quantizer family (maxmin, qsgd or nuq; default
// maxmin): the candidates are F at every bits x bucket of the grid (default
// bits 2|3|4|6|8, buckets 128|512|2048), the uniform setting is F's own default
// (maxmin:bits=4,bucket=512), planned at call W (default 10) and every P calls
// after it (default 100), with a budget of A (default 1) times the uniform
// setting's total error over the call's layers. The planning itself is the
// communicator's (src/planner/adaptive.h); this is its spec and grid. Like a
// round scheme's, this object's own encode/decode never run: a planned layer
// travels in its candidate's codec, whose spec is what the wire carries.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/core/facade_compressor.h"
#include "src/planner/adaptive.h"

namespace gw {

class Registry;

constexpr uint16_t kLgrecoCompressorId = 14;

class LgrecoCompressor final : public FacadeCompressor, public AdaptiveFamily {
 public:
  LgrecoCompressor(std::string spec, std::vector<std::shared_ptr<const Scheme>> candidates, size_t uniform,
                   uint64_t warmup, uint64_t period, double alpha);
  uint16_t id() const override { return kLgrecoCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override { return CompressorTraits(); }
  const AdaptiveFamily* adaptive() const override { return this; }

  const std::vector<std::shared_ptr<const Scheme>>& candidates() const override { return candidates_; }
  size_t uniform() const override { return uniform_; }
  double alpha() const override { return alpha_; }
  bool plans_at(uint64_t step) const override { return step >= warmup_ && (step - warmup_) % period_ == 0; }

 protected:
  const char* travels_as() const override { return "travels in its planned candidate's codec"; }

 private:
  std::string spec_;
  std::vector<std::shared_ptr<const Scheme>> candidates_;
  size_t uniform_;
  uint64_t warmup_, period_;
  double alpha_;
};

void register_lgreco(Registry& r);

}  // namespace gw
