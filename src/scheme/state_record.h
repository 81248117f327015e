// The bytes of gw_layer_save_state / gw_layer_load_state: a layer's step
// counter, statistics and scheme state in one versioned record. Every field is
// written little-endian, one by one (no struct images), so a record moves
// between builds and machines; a CRC32C over the record catches damage.
//
// Version 5 layout:
//   u32 magic "GWTS" (0x53545747), u32 version, u64 layer-name hash, u64 step,
//   u64 x6 stats (calls, elements, bytes_input, bytes_sent, bytes_received,
//   state_resets), f64 x4 stats (encode, decode, comm, total seconds),
//   u32 spec length, spec bytes (the scheme the state belongs to; empty: none),
//   u8 feedback mode (0 none, 1 ef=1, 2 ef21), u8 x3 zero, u64 count,
//   u32 vectors, u64 extra, (vectors x count + extra) float32,
//   u32 rule length, rule bytes (the canonical robust rule the rule state
//   belongs to; empty: the layer has none), u64 rule count, u64 rule calls,
//   u64 long steps, u64 short steps, u64 center floats, u64 window floats,
//   (center + window) float32,
//   u32 world, u32 excluded ranks, excluded ranks x u32 rank (the
//   communicator's excluded set, src/scheme/excluded_section.h; zeros when
//   the record names no rule),
//   u32 CRC32C of everything before it.
// The feedback vectors come first, count floats each; `extra` floats are a
// round scheme's own state (PowerSGD: its Q, cols x rank, column-major). The
// rule section is the layer's RuleState (src/robust/peer_rule.h): centered
// clipping's center, SafeguardSGD's windows (2 x ranks rows of the rule
// count) and step counters, and the calls the plan fingerprint hashes, then
// the ranks a rule removed for good from the communicator (every layer with a
// rule carries the communicator's whole set). Version 4 records (no excluded
// set: the communicator's is left as it is), version 3 records (no rule
// section: the rule state starts fresh) and version 2 records (no `extra`
// field either, extra = 0) still load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/scheme/excluded_section.h"
#include "src/scheme/layer.h"

namespace gw {

constexpr uint32_t kStateMagic = 0x53545747u;  // "GWTS"
constexpr uint32_t kStateVersion = 5;

// `rule` is the layer's current robust rule (null: none); its state is saved
// under its name, and with it `excluded`, the communicator's excluded set
// (world 0: none known, as outside a communicator).
std::vector<uint8_t> save_state_record(Layer& layer, const PeerRule* rule,
                                       const ExcludedRanks& excluded = ExcludedRanks());

// Validates everything before changing the layer: GW_ERR_CORRUPT for damaged
// or foreign bytes (sizes that do not add up, rule state that cannot be the
// named rule's), GW_ERR_INVALID_ARGUMENT naming the field for a record of
// another version, or with state for another spec than `current_spec` (the
// spec the layer's calls use now), or rule state for another rule than
// `current_rule` (null: none) or saved on a communicator of another size than
// `world`. A record whose rule section names another rule but holds no state
// (a rule that keeps none) loads with the rule state fresh (logged).
// `excluded_now` is the communicator's excluded set (ascending). Returns the
// ranks the record lists as excluded (ascending; none before version 5), for
// the caller to add to that set: GW_ERR_INVALID_ARGUMENT, before anything
// changes, when they were saved on another number of ranks than `world` or
// would leave no majority with `excluded_now` (excluded_section.h).
std::vector<int> load_state_record(Layer& layer, const uint8_t* buf, size_t size, const std::string& current_spec,
                                   const PeerRule* current_rule, int world,
                                   const std::vector<int>& excluded_now = std::vector<int>());

}  // namespace gw
