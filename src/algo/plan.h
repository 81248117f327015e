// The plan of one collective call, computed identically on every rank from the
// call's arguments: which layers (segments) it covers with which codec, how the
// elements are cut into pieces (independent encode units small enough that
// decode-accumulate stays in cache) and how pieces are grouped into rounds
// (one exchange each, pipelined: encoding round i+1 overlaps the transfer of round i).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/config/config.h"
#include "src/scheme/layer.h"
#include "src/core/compressor.h"
#include "src/robust/peer_rule.h"
#include "src/scheme/scheme.h"
#include "src/wire/header.h"

namespace gw {

enum class CallKind : uint8_t { kAllreduce = 1, kAllgather = 2 };

struct Segment {
  Layer* layer = nullptr;
  std::shared_ptr<const Compressor> codec;
  std::shared_ptr<const Scheme> scheme;  // codec + feedback; its spec is what the wire's hash covers
  CompressorTraits traits;               // codec->traits(), read once per call
  // The layer's feedback vectors (scheme/layer_state.h) where the call's data
  // lives, aligned with the segment; null when this call runs no feedback.
  float* feedback_state = nullptr;
  size_t offset = 0;  // first element in the call's buffers
  size_t count = 0;
  // Allreduce only: the layer's peer rule (robust=): every peer's decoded
  // vector is kept and combined by it (allgather form); null = the running
  // sum of fused decode_add. rule_state is the layer's, never null with a rule.
  std::shared_ptr<const PeerRule> rule;
  RuleState* rule_state = nullptr;

  const std::string& spec() const { return scheme ? scheme->spec : codec->spec(); }
  Feedback feedback() const { return feedback_state ? scheme->feedback : Feedback::kNone; }
};

struct Piece {
  uint32_t segment = 0;
  size_t begin = 0;  // absolute element index in the call's buffers
  size_t count = 0;
};

struct Round {
  std::vector<Piece> pieces;
};

struct CallPlan {
  CallKind kind = CallKind::kAllreduce;
  gw_op op = GW_SUM;
  gw_dtype dtype = GW_FLOAT32;
  Algorithm algorithm = Algorithm::kAllgather;  // resolved, never kAuto
  size_t total = 0;                             // elements
  std::vector<Segment> segments;
  std::vector<Round> rounds;
  // Ranks a peer rule has dropped for good (SafeguardSGD): their payloads are
  // still received and checked, and left out of every rule.
  std::vector<int> excluded;
  PlanFingerprint fingerprint;
};

// True when some layer's vectors are combined by a peer rule (robust=).
inline bool has_peer_rule(const CallPlan& plan) {
  for (const Segment& s : plan.segments)
    if (s.rule) return true;
  return false;
}

// True when some layer runs a round scheme (several exchanges: scheme/round_codec.h).
inline bool has_round_layers(const CallPlan& plan) {
  for (const Segment& s : plan.segments)
    if (s.codec->round_codec()) return true;
  return false;
}

// True when every round scheme of the call also runs on device memory.
inline bool round_layers_run_on_device(const CallPlan& plan) {
  for (const Segment& s : plan.segments)
    if (s.codec->round_codec() && !s.codec->round_codec()->runs_on_device()) return false;
  return true;
}

// The unit of one codec call (and of its RNG key). Large, because on a GPU each
// piece is a kernel launch per source: 64 Ki-element pieces made a 64 MiB call
// cost ~800 launches (~2.7 ms of launch overhead on an H100), and 1 Mi-element
// ones left a 1 GiB call launch-bound (3.0 ms against 0.72 ms for
// ncclAllReduce on one H100). 16 Mi elements = the device round (64 MiB), so a
// large layer is one piece per round there; host rounds (4 MiB) cut pieces
// smaller anyway, and the CPU codecs stream through memory either way
// (decode_add measured at DRAM speed).
constexpr size_t kPieceElems = 16 * 1024 * 1024;

// Cuts segments into pieces and groups them into rounds of about chunk_elems
// elements (a whole-layer codec's segment is one piece, however long), then
// fills the fingerprint. Identical on every rank for equal inputs.
void build_rounds(CallPlan& plan, size_t chunk_elems);

// This rank's side of a disagreement, in words (the header carries only
// fingerprints): "layers 'a' [0, +10), 'b' [10, +5); specs 'none', ...", the
// first few layers and a count of the rest, so a message stays short.
std::string describe_plan(const CallPlan& plan);

// Part j of n of a piece (the SRA split): [first, first + count).
inline void piece_part(const Piece& p, int j, int n, size_t* first, size_t* count) {
  size_t a = p.begin + p.count * static_cast<size_t>(j) / static_cast<size_t>(n);
  size_t b = p.begin + p.count * static_cast<size_t>(j + 1) / static_cast<size_t>(n);
  *first = a;
  *count = b - a;
}

}  // namespace gw
