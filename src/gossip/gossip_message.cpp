#include "src/gossip/gossip_message.h"

#include <cmath>
#include <cstring>

#include "src/common/error.h"
#include "src/wire/checksum.h"

namespace gw {

const char* gossip_kind_name(GossipKind k) {
  switch (k) {
    case GossipKind::kRequest: return "request";
    case GossipKind::kReply: return "reply";
    case GossipKind::kDelta: return "delta";
    case GossipKind::kClosing: return "closing";
    case GossipKind::kFinal: return "final";
    case GossipKind::kBusy: return "busy";
  }
  return "unknown";
}

GossipHeader make_gossip_header(GossipKind kind, int sender, uint64_t count, uint64_t fingerprint, uint64_t seq) {
  GossipHeader h;
  std::memset(&h, 0, sizeof h);
  h.magic = kGossipMagic;
  h.version = kGossipVersion;
  h.kind = static_cast<uint16_t>(kind);
  h.sender = static_cast<uint32_t>(sender);
  h.count = count;
  h.fingerprint = fingerprint;
  h.seq = seq;
  return h;
}

void seal_gossip_header(GossipHeader& h, const void* payload, size_t payload_bytes) {
  h.payload_bytes = payload_bytes;
  h.payload_crc = payload_bytes ? crc32c(payload, payload_bytes) : 0;
  h.header_crc = 0;
  h.header_crc = crc32c(&h, sizeof h);
}

std::string check_gossip_message(const uint8_t* msg, size_t bytes, int source, int world, uint64_t count,
                                 uint64_t fingerprint, const GossipSizes& sizes) {
  if (bytes < sizeof(GossipHeader))
    return concat_parts("a ", bytes, "-byte message, shorter than the ", sizeof(GossipHeader), "-byte header");
  GossipHeader h;
  std::memcpy(&h, msg, sizeof h);
  if (h.magic != kGossipMagic) return concat_parts("bad magic ", hex(h.magic));
  if (h.version != kGossipVersion) return concat_parts("gossip format version ", h.version, ", not ", kGossipVersion);
  uint32_t sealed = h.header_crc;
  h.header_crc = 0;
  if (crc32c(&h, sizeof h) != sealed) return "header checksum mismatch";
  if (h.kind == 0 || h.kind >= kGossipNumKinds) return concat_parts("unknown message kind ", h.kind);
  if (static_cast<int>(h.sender) != source || source < 0 || source >= world)
    return concat_parts("the header names sender ", h.sender, " but MPI delivered it from rank ", source);
  if (h.count != count) return concat_parts("count ", h.count, " where this group has ", count);
  if (h.fingerprint != fingerprint) return "a different codec or count (fingerprint mismatch)";
  auto kind = static_cast<GossipKind>(h.kind);
  const bool may_carry_codes = kind == GossipKind::kReply || kind == GossipKind::kDelta;
  if (h.codec_bits != 0 && (!may_carry_codes || static_cast<int>(h.codec_bits) != sizes.bits))
    return concat_parts("codes of ", h.codec_bits, " bits in a ", gossip_kind_name(kind), " (this group: ", sizes.bits,
                        ")");
  size_t want = 0, also = 0;  // the payload sizes allowed
  if (kind == GossipKind::kRequest) also = sizes.bits ? sizes.hints : 0;
  // A reply of version 0: the sender has published nothing yet (no payload).
  if ((kind == GossipKind::kReply && h.version_published != 0) || kind == GossipKind::kDelta)
    want = h.codec_bits ? sizes.codes : sizes.fp32;
  const size_t got = bytes - sizeof h;
  if (h.payload_bytes != got || (got != want && (also == 0 || got != also)))
    return concat_parts("a ", gossip_kind_name(kind), " of ", got, " payload bytes (header says ", h.payload_bytes,
                        "), expected ", want, also ? concat_parts(" or ", also) : std::string());
  if (!(h.age_s >= 0) || !std::isfinite(h.age_s)) return "a negative or non-finite age";
  if (got && crc32c(msg + sizeof h, got) != h.payload_crc) return "payload checksum mismatch";
  return "";
}

}  // namespace gw
