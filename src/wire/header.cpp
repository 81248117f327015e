#include "src/wire/header.h"

#include <cstring>

#include "src/common/error.h"
#include "src/wire/checksum.h"

namespace gw {

void write_header(uint8_t* msg, const PlanFingerprint& plan, uint64_t seq, uint32_t exchange, int sender,
                  uint16_t flags, uint32_t abort_status, uint64_t payload_bytes, bool checksum) {
  MessageHeader h;
  std::memset(&h, 0, sizeof(h));
  h.magic = kWireMagic;
  h.version = kWireVersion;
  h.flags = static_cast<uint16_t>(flags | (checksum ? kFlagChecksum : 0));
  h.sender = static_cast<uint32_t>(sender);
  h.exchange = exchange;
  h.seq = seq;
  h.kind = plan.kind;
  h.op = plan.op;
  h.dtype = plan.dtype;
  h.algorithm = plan.algorithm;
  h.num_layers = plan.num_layers;
  h.count = plan.count;
  h.layers_hash = plan.layers_hash;
  h.specs_hash = plan.specs_hash;
  h.chunk_elems_lo = static_cast<uint32_t>(plan.chunk_elems);
  h.abort_status = abort_status;
  h.payload_bytes = payload_bytes;
  h.checksum = 0;
  std::memcpy(msg, &h, sizeof(h));
  if (checksum) {
    uint32_t crc = crc32c(msg, sizeof(h) + payload_bytes);
    std::memcpy(msg + offsetof(MessageHeader, checksum), &crc, sizeof(crc));
  }
}

namespace {
template <typename T>
void require_same(const char* field, T theirs, T ours, int peer, int self, const std::string& what) {
  if (theirs != ours)
    fail(GW_ERR_MISMATCH, "rank ", peer, " disagrees on ", field, " for ", what, " (rank ", peer, ": ",
         +theirs, ", rank ", self, ": ", +ours, ")");
}
void check_plan_fields(const MessageHeader& h, const PlanFingerprint& plan, uint64_t seq, uint32_t exchange,
                       int peer, int self, const std::string& what) {
  require_same("collective call number (ranks called collectives in a different order)", h.seq, seq, peer, self,
               what);
  require_same("collective kind (allreduce/allgather)", h.kind, plan.kind, peer, self, what);
  require_same("dtype", h.dtype, plan.dtype, peer, self, what);
  require_same("reduction op", h.op, plan.op, peer, self, what);
  require_same("number of layers", h.num_layers, plan.num_layers, peer, self, what);
  require_same("element count", h.count, plan.count, peer, self, what);
  // Fingerprints, not values: the caller names this rank's layers and specs (describe_plan).
  GW_REQUIRE(h.layers_hash == plan.layers_hash, GW_ERR_MISMATCH, "rank ", peer,
             " disagrees on the layer names, offsets or counts for ", what);
  GW_REQUIRE(h.specs_hash == plan.specs_hash, GW_ERR_MISMATCH, "rank ", peer, " disagrees on the compressor spec for ",
             what);
  require_same("algorithm", h.algorithm, plan.algorithm, peer, self, what);
  require_same("chunk_bytes", h.chunk_elems_lo, static_cast<uint32_t>(plan.chunk_elems), peer, self, what);
  require_same("exchange index", h.exchange, exchange, peer, self, what);
}
}  // namespace

ReceivedMessage validate_message(const uint8_t* msg, size_t received, int peer, int self,
                                 const PlanFingerprint& plan, uint64_t seq, uint32_t exchange,
                                 uint64_t expected_payload, bool require_checksum, const std::string& what,
                                 bool truncated, bool payload_bound) {
  GW_REQUIRE(received >= sizeof(MessageHeader), GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
             " is truncated: ", received, " bytes, shorter than the ", sizeof(MessageHeader), "-byte header");
  MessageHeader h;
  std::memcpy(&h, msg, sizeof(h));
  GW_REQUIRE(h.magic == kWireMagic, GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
             " has a bad magic number (", hex(h.magic), "): not a gradwire message");
  require_same("wire format version", h.version, kWireVersion, peer, self, what);
  if (truncated) {
    check_plan_fields(h, plan, seq, exchange, peer, self, what);
    fail(GW_ERR_CORRUPT, "rank ", peer, " sent a message longer than the ", received, " bytes expected for ", what);
  }
  const bool has_crc = (h.flags & kFlagChecksum) != 0;
  GW_REQUIRE(has_crc == require_checksum, GW_ERR_MISMATCH, "rank ", peer, " has checksum=", has_crc ? 1 : 0,
             " but rank ", self, " has checksum=", require_checksum ? 1 : 0, " (", what, ")");
  // Length first (so the CRC never reads past what arrived), then the CRC.
  GW_REQUIRE(h.payload_bytes <= received - sizeof(MessageHeader), GW_ERR_CORRUPT, "message from rank ", peer,
             " for ", what, " is truncated: header announces ", h.payload_bytes, " payload bytes, ",
             received - sizeof(MessageHeader), " arrived");
  GW_REQUIRE(h.payload_bytes == received - sizeof(MessageHeader), GW_ERR_CORRUPT, "message from rank ", peer,
             " for ", what, " has ", received - sizeof(MessageHeader), " payload bytes, header announces ",
             h.payload_bytes);
  if (has_crc) {
    uint32_t want = h.checksum;
    MessageHeader zeroed = h;
    zeroed.checksum = 0;
    uint32_t crc = crc32c(&zeroed, sizeof(zeroed));
    crc = crc32c(msg + sizeof(MessageHeader), h.payload_bytes, crc);
    GW_REQUIRE(crc == want, GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
               " failed its checksum (payload corrupted in transit)");
  }
  // A valid CRC over a header naming another sender: forged or misrouted, not a disagreement.
  GW_REQUIRE(h.sender == static_cast<uint32_t>(peer), GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
             " names sender ", h.sender, " in its header (forged or misrouted)");
  check_plan_fields(h, plan, seq, exchange, peer, self, what);
  ReceivedMessage m;
  m.header = reinterpret_cast<const MessageHeader*>(msg);
  m.payload = msg + sizeof(MessageHeader);
  if (h.flags & kFlagAbort) {  // caller reports the remote failure, naming its status
    GW_REQUIRE(h.abort_status < GW_NUM_STATUS, GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
               " reports a failure with status ", h.abort_status, ", not a gw_status");
    return m;
  }
  if (payload_bound)
    GW_REQUIRE(h.payload_bytes <= expected_payload, GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
               " carries ", h.payload_bytes, " payload bytes where at most ", expected_payload, " are expected");
  else
    GW_REQUIRE(h.payload_bytes == expected_payload, GW_ERR_CORRUPT, "message from rank ", peer, " for ", what,
               " carries ", h.payload_bytes, " payload bytes where ", expected_payload, " are expected");
  return m;
}

}  // namespace gw
