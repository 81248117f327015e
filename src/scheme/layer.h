// Per-layer state kept by the communicator between calls: the layer's spec,
// its step counter (which keys stochastic rounding), shape hint, statistics
// and scheme state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/core/compressor.h"
#include "src/robust/peer_rule.h"
#include "src/scheme/layer_state.h"
#include "src/scheme/round_codec.h"
#include "src/scheme/scheme.h"
#include "src/wire/header.h"

namespace gw {

struct LayerStats {
  uint64_t calls = 0;
  uint64_t elements = 0;
  uint64_t bytes_input = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t state_resets = 0;  // scheme state dropped: spec or count changed, or a call failed
  uint64_t state_bytes = 0;   // scheme state held now (not summed over calls)
  uint64_t decode_retries = 0;  // check units re-sent because a receiver could not decode them (lattice)
  uint64_t equivocations = 0;   // senders left out of a robust call: they sent different bytes to different ranks
  uint64_t ranks_excluded = 0;  // the communicator's: ranks a robust rule removed for good (not per layer)
  double encode_s = 0, decode_s = 0, comm_s = 0, total_s = 0;

  void add(const LayerStats& o) {
    calls += o.calls;
    elements += o.elements;
    bytes_input += o.bytes_input;
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    state_resets += o.state_resets;
    state_bytes += o.state_bytes;
    decode_retries += o.decode_retries;
    equivocations += o.equivocations;
    encode_s += o.encode_s;
    decode_s += o.decode_s;
    comm_s += o.comm_s;
    total_s += o.total_s;
  }
};

// Layers the library runs for itself ("__gradwire_..."): lgreco's error
// allreduce, the attack harness's view.
inline bool is_internal_layer(const std::string& name) { return name.compare(0, 11, "__gradwire_") == 0; }

struct Layer {
  std::string name;
  uint64_t name_hash = 0;
  std::string spec_override;  // empty: the communicator's default
  std::shared_ptr<const Scheme> scheme;  // resolved from the spec above on first use (set_spec clears it)
  std::vector<int64_t> shape;
  uint64_t step = 0;          // calls so far (successful or not): keys the RNG
  // The plan of this layer's last plain (small-message) call that every rank
  // was seen to agree on: with plan_check=changes, an unchanged plan skips the check.
  PlanFingerprint plain_checked;
  bool plain_checked_valid = false;
  LayerStats stats;
  LayerState state;  // error-feedback vectors (scheme state)
  // A round scheme's wire identity of each round's vector (scheme spec, matrix
  // view, op; src/comm/communicator_rounds.cpp), made once per layout.
  std::string round_key;
  std::shared_ptr<const Scheme> round_schemes[kMaxRounds];
  // An lgreco layer's planned candidate (src/comm/communicator_adaptive.cpp):
  // its index in the family's grid, -1 before the first plan, and the family
  // object it indexes (a changed spec starts over).
  int planned = -1;
  const void* planned_family = nullptr;
  // The layer's peer rule when gw_layer_set_robust chose one (rule_set;
  // null = the running sum), else the communicator's robust=; and what the
  // rule keeps between calls (centered clipping's center, SafeguardSGD's
  // windows), reset when a call fails.
  bool rule_set = false;
  std::shared_ptr<const PeerRule> rule;
  RuleState rule_state;
};

}  // namespace gw
