// A rule that combines every peer's decoded vector into one (the reducer that
// keeps every peer's contribution, ARCHITECTURE.md "Schemes"), as opposed to
// the running sum of fused decode_add. Chosen by the `robust=` config key
// (robust=RULE:key=value,...; the rules and their keys: docs/ROBUST.md).
//
// A rule is deterministic: it sees the peers in rank order, sums in a fixed
// order (in double where it measures distances) and breaks ties by rank, so
// every rank that holds the same decoded vectors gets a bit-identical result.
// A Byzantine peer can choose its own row; it cannot make two honest ranks
// disagree, and NaN/Inf in its row never breaks a rule's bookkeeping (a row
// whose distance is not finite counts as infinitely far).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gw {

// What a rule keeps about one layer between calls (the layer owns it): the
// previous aggregate of centered clipping, SafeguardSGD's window sums. A
// changed count resets it (the rule says so in its log line).
struct RuleState {
  size_t count = 0;            // the layer's element count the vectors below belong to
  std::vector<float> center;   // centered clipping: the last aggregate (zeros at first)
  std::vector<float> windows;  // safeguard: [long | short] window sums, one row per rank
  uint64_t long_steps = 0, short_steps = 0;  // safeguard: calls summed into each window so far
  // Calls combined since the state began: in the plan fingerprint, so a rank
  // whose state was reset by a failure that its peers did not see is a
  // named mismatch (which resets everyone's) rather than a silent divergence.
  uint64_t calls = 0;
  size_t bytes() const { return (center.size() + windows.size()) * sizeof(float); }
  void clear() { *this = RuleState(); }
};

// One rule call: the rows of the ranks that still count, in rank order.
struct PeerRows {
  const float* const* rows = nullptr;
  const int* ranks = nullptr;  // their ranks (ascending)
  int m = 0;                   // how many rows
  int world = 0;               // ranks in the communicator (state is kept for all)
  uint64_t key = 0;            // shared by every rank for this layer and call (bucketing's shuffle)
};

class PeerRule {
 public:
  virtual ~PeerRule() = default;
  // Canonical spec ("median", "krum:f=1,m=1,bucket=1"): part of the plan
  // fingerprint, so ranks that disagree on the rule or a parameter get
  // GW_ERR_MISMATCH rather than different results.
  virtual const std::string& name() const = 0;
  // True when out[i] depends only on coordinate i of the rows: the rule may
  // then run piece by piece; otherwise it sees a layer's whole vectors.
  virtual bool coordinatewise() const = 0;
  // out[0, count) = the rule's estimate of the mean of the rows. `state` is the
  // layer's (never null); `removed` collects ranks the rule drops for good
  // (SafeguardSGD), which the caller leaves out of every later call.
  virtual void combine(const PeerRows& peers, size_t count, float* out, RuleState& state,
                       std::vector<int>& removed) const = 0;
  // Empty when `state` could be this rule's on a communicator of `world`
  // ranks, else what is wrong with it: a checkpoint's state is untrusted
  // input (src/scheme/state_record.h). The default: a rule that keeps no
  // vectors (its count and call count aside, which say nothing about it).
  virtual std::string check_state(const RuleState& state, int world) const;
};

// True when `good` of `world` ranks are a majority. SafeguardSGD's guarantee
// needs fewer than half Byzantine: no removal, nor a checkpoint's excluded
// set (src/scheme/excluded_section.h), may leave fewer good ranks.
inline bool keeps_majority(size_t good, size_t world) { return 2 * good > world; }

// "none" -> null (the running sum); otherwise a rule spec (docs/ROBUST.md);
// anything else is GW_ERR_INVALID_ARGUMENT naming the rule or key.
std::shared_ptr<const PeerRule> make_peer_rule(const std::string& spec);

// The rule names make_peer_rule takes, "|"-separated (for messages and help).
const char* peer_rule_names();

}  // namespace gw
