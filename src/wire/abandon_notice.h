// The notice a rank sends every peer when it abandons a call the others may
// have completed (transport.h: Transport::abandon). Fixed 24 bytes,
// little-endian, CRC32C-protected like every message: a peer's notice is
// untrusted input too, and a malformed one is reported as such (it still
// breaks the communicator: a peer that sends garbage on this channel cannot
// be trusted to take part in the next call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gradwire/gradwire.h"

namespace gw {

constexpr size_t kAbandonNoticeBytes = 24;

void write_abandon_notice(uint8_t* out, int sender, uint64_t seq, gw_status status);

// What the notice of `bytes` bytes from MPI source `peer` says, in words
// ("rank 2 abandoned call #17 with GW_ERR_TIMEOUT"), or why it is malformed.
// *status is the status it names (GW_ERR_CORRUPT when malformed).
std::string read_abandon_notice(const uint8_t* msg, size_t bytes, int peer, gw_status* status);

}  // namespace gw
