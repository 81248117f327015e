// The bytes of gw_layer_save_state / gw_layer_load_state: a layer's step
// counter, statistics and scheme state in one versioned record. Every field is
// written little-endian, one by one (no struct images), so a record moves
// between builds and machines; a CRC32C over the record catches damage.
//
// Version 3 layout:
//   u32 magic "GWTS" (0x53545747), u32 version, u64 layer-name hash, u64 step,
//   u64 x6 stats (calls, elements, bytes_input, bytes_sent, bytes_received,
//   state_resets), f64 x4 stats (encode, decode, comm, total seconds),
//   u32 spec length, spec bytes (the scheme the state belongs to; empty: none),
//   u8 feedback mode (0 none, 1 ef=1, 2 ef21), u8 x3 zero, u64 count,
//   u32 vectors, u64 extra, (vectors x count + extra) float32,
//   u32 CRC32C of everything before it.
// The feedback vectors come first, count floats each; `extra` floats are a
// round scheme's own state (PowerSGD: its Q, cols x rank, column-major).
// Version 2 records (no `extra` field, extra = 0) still load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/scheme/layer.h"

namespace gw {

constexpr uint32_t kStateMagic = 0x53545747u;  // "GWTS"
constexpr uint32_t kStateVersion = 3;

std::vector<uint8_t> save_state_record(Layer& layer);

// Validates everything before changing the layer: GW_ERR_CORRUPT for damaged
// or foreign bytes, GW_ERR_INVALID_ARGUMENT naming the field for a record of
// another version, or with state for another spec than `current_spec` (the
// spec the layer's calls use now).
void load_state_record(Layer& layer, const uint8_t* buf, size_t size, const std::string& current_spec);

}  // namespace gw
