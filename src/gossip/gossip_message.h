// What gossip peers send each other (over MPI point-to-point, one message
// each, header first). Every message from a peer is untrusted:
// check_gossip_header() validates all of it before a payload byte is used.
//   request  initiator -> partner: "send me your published copy" (no payload)
//   reply    partner -> initiator: the published copy (fp32 or lattice codes)
//   delta    initiator -> partner: d = (x_i - P_j) / 2, fp32 or codes, to add
//   busy     partner -> initiator, instead of a reply: "I am exchanging with
//            you right now; give yours up" (no payload; see serve())
//   closing  to every peer: "I start no more interactions"
//   final    to every peer: "I sent you `seq` messages before this one"
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gw {

constexpr uint32_t kGossipMagic = 0x31475747u;  // "GWG1"
constexpr uint16_t kGossipVersion = 1;

enum class GossipKind : uint16_t { kRequest = 1, kReply = 2, kDelta = 3, kClosing = 4, kFinal = 5, kBusy = 6 };
constexpr int kGossipNumKinds = 7;

struct GossipHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t kind;
  uint32_t sender;
  uint32_t codec_bits;      // 0: fp32 payload; B: lattice codes of B bits
  uint64_t seq;             // request/reply/delta: the interaction; final: messages sent before it
  uint64_t count;           // model values
  uint64_t fingerprint;     // of count and codec: ranks that disagree never mix models
  uint64_t payload_bytes;
  uint64_t version_published;  // reply: which publish of the sender
  double age_s;             // reply: seconds since that publish, when served
  uint32_t payload_crc;     // CRC32C of the payload
  uint32_t header_crc;      // CRC32C of this header with header_crc = 0
};
static_assert(sizeof(GossipHeader) == 72, "GossipHeader layout");

const char* gossip_kind_name(GossipKind k);

// Fills magic, version, kind, sender, count, fingerprint, seq; payload fields zero.
GossipHeader make_gossip_header(GossipKind kind, int sender, uint64_t count, uint64_t fingerprint, uint64_t seq);
// Sets payload_bytes and payload_crc, then seals header_crc.
void seal_gossip_header(GossipHeader& h, const void* payload, size_t payload_bytes);

// The payload sizes a group allows (0 where it has no codec).
struct GossipSizes {
  int bits = 0;             // the group's lattice bits (0: fp32 only)
  size_t fp32 = 0;          // count floats
  size_t codes = 0;         // lattice codes of the model (or of a delta)
  size_t hints = 0;         // a request's spacings, one float per unit
};

// Checks a message of `bytes` bytes that MPI says came from `source`:
// returns "" when valid, else the reason (naming what is wrong). A request
// carries nothing or (codec groups) the spacings it asks for; a reply of a
// published copy fp32 values or codes; a delta fp32 values or codes; the
// other kinds nothing.
std::string check_gossip_message(const uint8_t* msg, size_t bytes, int source, int world, uint64_t count,
                                 uint64_t fingerprint, const GossipSizes& sizes);

}  // namespace gw
