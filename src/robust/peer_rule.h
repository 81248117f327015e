// A rule that combines every peer's decoded vector into one (the reducer that
// keeps every peer's contribution, ARCHITECTURE.md "Schemes"), as opposed to
// the running sum of fused decode_add. Chosen by the `robust=` config key; the
// Byzantine-robust rules build on it. A rule is deterministic and sees the
// peers in rank order, so every rank that holds the same decoded vectors gets
// bit-identical results.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace gw {

class PeerRule {
 public:
  virtual ~PeerRule() = default;
  // Canonical name ("mean", "median"): part of the plan fingerprint, so ranks
  // that disagree on the rule get GW_ERR_MISMATCH rather than different results.
  virtual const std::string& name() const = 0;
  // out[i] = rule(peers[0][i], ..., peers[n-1][i]) for i in [0, count): an
  // estimate of the mean of the n vectors. NaN/Inf in a peer's values must
  // not break the rule's own bookkeeping (nonfinite=propagate lets them here).
  virtual void combine(const float* const* peers, int n, size_t count, float* out) const = 0;
};

// "none" -> null (the running sum); "mean" or "median"; anything else is
// GW_ERR_INVALID_ARGUMENT naming the key.
std::shared_ptr<const PeerRule> make_peer_rule(const std::string& spec);

}  // namespace gw
