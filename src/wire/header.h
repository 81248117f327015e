// The wire format. Every message a rank sends is
//   [MessageHeader (80 bytes, little-endian)][payload: the encoded pieces, back to back]
// Fixed-size codecs' pieces have the planned sizes; variable-size ones (the
// lossless stage) start with their own length, and payload_bytes is then the
// actual total, at most the planned capacity.
// The header names the sender, the call (seq) and exchange it belongs to, and a
// fingerprint of the call's plan (kind, op, dtype, algorithm, element count,
// layer names/counts, canonical specs). A receiver validates all of it before
// reading a byte of payload: a peer that disagrees is GW_ERR_MISMATCH naming the
// peer and the field, damaged bytes are GW_ERR_CORRUPT naming the sender.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gradwire/gradwire.h"

namespace gw {

constexpr uint32_t kWireMagic = 0x31525747u;  // "GWR1"
// 2: 64-bit layer and spec fingerprints (32-bit ones collided within a second of search).
constexpr uint16_t kWireVersion = 2;

enum WireFlags : uint16_t {
  kFlagNonfinite = 1u << 0,  // sender's input had NaN/Inf
  kFlagAbort = 1u << 1,      // sender failed this call earlier; payload omitted
  kFlagChecksum = 1u << 2,   // checksum field is set
};

// What every rank must agree on for one collective call.
struct PlanFingerprint {
  uint8_t kind = 0;  // 1 allreduce, 2 allgather
  uint8_t op = 0;
  uint8_t dtype = 0;
  uint8_t algorithm = 0;
  uint32_t num_layers = 0;
  uint64_t count = 0;         // elements in the call
  uint64_t layers_hash = 0;   // names, offsets, counts (64 bits: no accidental collision)
  uint64_t specs_hash = 0;    // canonical specs
  uint64_t chunk_elems = 0;   // pipelining granularity (defines the exchanges)
};

#pragma pack(push, 1)
struct MessageHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t flags;
  uint32_t sender;
  uint32_t exchange;       // index of the exchange within the call
  uint64_t seq;            // collective call number on the communicator
  uint8_t kind, op, dtype, algorithm;
  uint32_t num_layers;
  uint64_t count;
  uint64_t layers_hash;
  uint64_t specs_hash;
  uint32_t chunk_elems_lo;  // low 32 bits are enough to tell configs apart
  uint32_t abort_status;    // gw_status of the sender's failure (kFlagAbort)
  uint64_t payload_bytes;
  uint32_t checksum;        // CRC32C of header (this field 0) + payload
  uint8_t reserved[4];      // zero; keeps payloads 16-byte aligned
};
#pragma pack(pop)
static_assert(sizeof(MessageHeader) == 80, "wire header is 80 bytes");

// Fills the header for a message of payload_bytes following it in `msg` and,
// when `checksum` is set, the CRC over header + payload.
void write_header(uint8_t* msg, const PlanFingerprint& plan, uint64_t seq, uint32_t exchange, int sender,
                  uint16_t flags, uint32_t abort_status, uint64_t payload_bytes, bool checksum);

struct ReceivedMessage {
  const MessageHeader* header = nullptr;  // valid after validate_message()
  const uint8_t* payload = nullptr;
};

// Validates a message of `received` bytes from rank `peer`. Throws gw::Error:
// GW_ERR_CORRUPT (truncated, bad magic, bad checksum, length disagreeing with the
// header, a sender field naming another rank), GW_ERR_MISMATCH (version, seq, plan fields, checksum
// setting — naming the field and both values). An abort message passes and is
// reported through header->flags. expected_payload is the length this rank
// expects for a non-abort message: exact, or with `payload_bound` (messages
// holding variable-size payloads, e.g. the lossless stage) the most it may be.
// `truncated`: the peer sent more than the receive buffer held (only the header
// fields can then explain why).
ReceivedMessage validate_message(const uint8_t* msg, size_t received, int peer, int self,
                                 const PlanFingerprint& plan, uint64_t seq, uint32_t exchange,
                                 uint64_t expected_payload, bool require_checksum, const std::string& what,
                                 bool truncated, bool payload_bound = false);

}  // namespace gw
