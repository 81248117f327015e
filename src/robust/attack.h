// The attack harness (config attack=KIND:ranks=a|b,...): FOR TESTS AND
// BENCHMARKS ONLY. The attacking ranks replace their own input of every
// allreduce by an attack vector before it is encoded, so the robust rules
// (robust=) can be measured against the attacks of the literature. An honest
// deployment leaves attack=none (the default); nothing else changes then.
//
// Kinds (docs/ROBUST.md "Attacks"): signflip (-scale x), gaussian (N(0,
// sigma^2) noise), alie (Baruch et al. 2019: per coordinate mean - z std of
// the honest inputs), ipm (Xie et al. 2020: -eps x the honest mean), mimic
// (copy one honest rank), labelflip (a data attack: the trainer flips labels
// on the attacking ranks; the library sends what it is given). alie, ipm and
// mimic are omniscient: every rank first shares its raw input in an internal
// allgather (kAttackLayer), which an honest deployment never runs. The wire
// kinds (malformed, truncated, oversized, garbage, equivocate) leave the input alone
// and rewrite the attacking rank's sealed messages instead (wire_attack.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/robust/wire_attack.h"

namespace gw {

// The internal layer of the omniscient attacks' allgather (left out of the
// communicator's statistics: it is the harness's traffic, not the algorithm's).
constexpr const char* kAttackLayer = "__gradwire_attack_view__";

class Attack {
 public:
  enum class Kind { kSignflip, kGaussian, kAlie, kIpm, kMimic, kLabelflip, kWire };

  // "none" -> null. world: the communicator's size (ranks are checked against it).
  static std::unique_ptr<Attack> make(const std::string& spec, int world);

  const std::string& name() const { return name_; }  // canonical spec
  Kind kind() const { return kind_; }
  bool attacks(int rank) const;
  // True when apply() needs every rank's raw input.
  bool omniscient() const { return kind_ == Kind::kAlie || kind_ == Kind::kIpm || kind_ == Kind::kMimic; }
  // True for the wire kinds: the attacking ranks' transport is wrapped
  // (make_wire_attack_transport with wire()) and apply() leaves x alone.
  bool on_wire() const { return kind_ == Kind::kWire; }
  WireAttack wire() const { return wire_; }
  // Rewrites x[0, count) of an attacking rank. all: world rows of count raw
  // inputs (omniscient kinds), else null; key: this call's randomness.
  void apply(float* x, size_t count, const float* all, uint64_t key) const;
  // alie's z: Phi^-1((n - s) / n), s = floor(n / 2 + 1) - f (Baruch et al.).
  static double alie_z(int world, int attackers);

 private:
  Attack() = default;
  std::string name_;
  Kind kind_ = Kind::kSignflip;
  int world_ = 0;
  std::vector<int> ranks_;  // attacking ranks, ascending
  double scale_ = 1, sigma_ = 1, z_ = 0, eps_ = 0.1;
  int target_ = 0;  // mimic: the honest rank copied
  WireAttack wire_ = WireAttack::kMalformed;
};

}  // namespace gw
