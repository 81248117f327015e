// The robust rules, one factory each (coordinate_rules.cpp, distance_rules.cpp,
// safeguard_rule.cpp, bucketing.cpp); make_peer_rule (rule_registry.cpp) reads
// the spec and gives each its canonical name.
#pragma once

#include <memory>
#include <string>

#include "src/robust/peer_rule.h"

namespace gw {

// Holds the canonical spec a rule answers to.
class NamedRule : public PeerRule {
 public:
  explicit NamedRule(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
};

// Per coordinate: the mean; the median (mean of the middle two for an even
// count); the mean after dropping the b largest and b smallest values.
std::unique_ptr<PeerRule> make_mean_rule(const std::string& name);
std::unique_ptr<PeerRule> make_median_rule(const std::string& name);
std::unique_ptr<PeerRule> make_trimmed_mean_rule(const std::string& name, int b);

// Krum / Multi-Krum (Blanchard et al. 2017): score each row by the sum of its
// squared distances to its m - f - 2 nearest rows; average the `select` rows
// of lowest score (select = 1: Krum).
std::unique_ptr<PeerRule> make_krum_rule(const std::string& name, int f, int select);
// Geometric median by smoothed Weiszfeld (Pillutla et al., RFA): weights
// 1 / max(nu, distance), `iters` iterations from the mean.
std::unique_ptr<PeerRule> make_geomed_rule(const std::string& name, double nu, int iters);
// Centered clipping (Karimireddy et al. 2021): from the previous aggregate v,
// v += mean_i (x_i - v) min(1, tau / |x_i - v|), `iters` times; v is layer state.
std::unique_ptr<PeerRule> make_centered_clip_rule(const std::string& name, double tau, int iters);
// SafeguardSGD (Allen-Zhu et al. 2021): per rank, the sums of its vectors over
// a long and a short window; a rank farther than ratio x the typical distance
// from the median sum of either window leaves the good set for good.
std::unique_ptr<PeerRule> make_safeguard_rule(const std::string& name, int long_window, int short_window,
                                              double ratio);
// Bucketing (Karimireddy et al. 2022): shuffle the rows with the call's shared
// key, average buckets of s, run `base` over the bucket means.
std::unique_ptr<PeerRule> make_bucketed_rule(const std::string& name, std::unique_ptr<PeerRule> base, int s);

}  // namespace gw
