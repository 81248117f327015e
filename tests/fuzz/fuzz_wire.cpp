// Fuzz target wire: the message header validator (src/wire/header.h:
// validate_message) and the abandon notice reader (src/wire/abandon_notice.h).
//
// Input: [u8 mode][u8 which][u32 expected payload][message...]
//   mode bit 0: the abandon notice (else a message header + payload)
//   mode bit 1: fix the CRC32C up after mutation (so the fuzzer reaches the
//               fields past the checksum; without it, it tests the check)
//   mode bit 2: require_checksum      bit 3: truncated
//   mode bit 4: payload_bound         bits 5-7: the peer's rank
//   which: the receiver's view of the call: exchange (bits 0-1), seq (bits 2-3)
// The receiver's plan is fixed (kPlan); seeds are messages write_header()
// made for it.
#include <cstddef>

#include "src/wire/abandon_notice.h"
#include "src/wire/checksum.h"
#include "src/wire/header.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

gw::PlanFingerprint plan() {
  gw::PlanFingerprint p;
  p.kind = 1;
  p.op = 2;
  p.dtype = 1;
  p.algorithm = 1;
  p.num_layers = 3;
  p.count = 1000;
  p.layers_hash = 0x0123456789abcdefull;
  p.specs_hash = 0xfedcba9876543210ull;
  p.chunk_elems = 1u << 20;
  return p;
}
constexpr int kSelf = 0;

void fix_header_crc(gw_fuzz::Exact<uint8_t>& msg) {
  if (msg.size() < sizeof(gw::MessageHeader)) return;
  const size_t at = offsetof(gw::MessageHeader, checksum);
  std::memset(msg.data() + at, 0, 4);
  const uint32_t crc = gw::crc32c(msg.data(), msg.size());
  std::memcpy(msg.data() + at, &crc, 4);
}

void fix_notice_crc(gw_fuzz::Exact<uint8_t>& msg) {
  if (msg.size() != gw::kAbandonNoticeBytes) return;
  std::memset(msg.data() + 20, 0, 4);
  const uint32_t crc = gw::crc32c(msg.data(), msg.size());
  std::memcpy(msg.data() + 20, &crc, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gw_fuzz::Bytes b(data, size);
  const uint8_t mode = b.take<uint8_t>();
  const uint8_t which = b.take<uint8_t>();
  const uint32_t expected = b.take<uint32_t>();
  const auto copy = gw_fuzz::exact_copy(b.rest(), b.left(), b.left());
  gw_fuzz::Exact<uint8_t>& msg = *copy;
  const int peer = (mode >> 5) & 7;
  if (mode & 1) {
    if (mode & 2) fix_notice_crc(msg);
    gw_status status = GW_SUCCESS;
    const std::string what = gw::read_abandon_notice(msg.data(), msg.size(), peer, &status);
    GW_FUZZ_CHECK(!what.empty() && what.size() <= gw::kMaxErrorMessageBytes);
    return 0;
  }
  if (mode & 2) fix_header_crc(msg);
  const uint32_t exchange = which & 3;
  const uint64_t seq = 7 + ((which >> 2) & 3);
  gw_fuzz::expect_ok_or_error([&] {
    const gw::ReceivedMessage m =
        gw::validate_message(msg.data(), msg.size(), peer, kSelf, plan(), seq, exchange, expected, (mode & 4) != 0,
                             "layer 'fc.weight'", (mode & 8) != 0, (mode & 16) != 0);
    // What passed is what the receiver then reads: header and payload in the message.
    GW_FUZZ_CHECK(m.header && m.payload == msg.data() + sizeof(gw::MessageHeader));
    gw::MessageHeader h;
    std::memcpy(&h, msg.data(), sizeof(h));
    GW_FUZZ_CHECK(h.payload_bytes == msg.size() - sizeof(gw::MessageHeader));
    GW_FUZZ_CHECK(h.sender == static_cast<uint32_t>(peer) && h.seq == seq && h.exchange == exchange);
    GW_FUZZ_CHECK((h.flags & gw::kFlagAbort) || ((mode & 16) ? h.payload_bytes <= expected
                                                             : h.payload_bytes == expected));
    // An abort message: the receiver names the sender's status (collective.cpp).
    if (h.flags & gw::kFlagAbort)
      GW_FUZZ_CHECK(gw_status_string(static_cast<gw_status>(h.abort_status)) != nullptr);
  });
  return 0;
}

// Seeds: valid messages (with and without CRC, an abort message), one cut
// short, valid and malformed abandon notices.
void gw_fuzz_make_seeds(const std::string& dir) {
  auto message = [](uint8_t mode, uint8_t which, uint32_t payload, uint16_t flags, bool checksum) {
    const int peer = (mode >> 5) & 7;
    std::vector<uint8_t> seed;
    seed.push_back(mode);
    seed.push_back(which);
    gw_fuzz::put(seed, payload);
    std::vector<uint8_t> msg(sizeof(gw::MessageHeader) + payload);
    for (size_t i = 0; i < payload; ++i) msg[sizeof(gw::MessageHeader) + i] = static_cast<uint8_t>(i * 7);
    gw::write_header(msg.data(), plan(), 7 + ((which >> 2) & 3), which & 3, peer, flags,
                     flags & gw::kFlagAbort ? GW_ERR_TIMEOUT : 0, payload, checksum);
    seed.insert(seed.end(), msg.begin(), msg.end());
    return seed;
  };
  gw_fuzz::write_seed(dir, "header-crc", message(4 | (1 << 5), 0, 64, 0, true));
  gw_fuzz::write_seed(dir, "header-nocrc", message(2 << 5, 5, 16, 0, false));
  gw_fuzz::write_seed(dir, "header-bound", message(4 | 16 | (3 << 5), 2, 40, gw::kFlagNonfinite, true));
  gw_fuzz::write_seed(dir, "header-abort", message(4 | (1 << 5), 0, 0, gw::kFlagAbort, true));
  gw_fuzz::write_seed(dir, "header-truncated", message(4 | 8 | (1 << 5), 0, 32, 0, true));
  std::vector<uint8_t> cut = message(4 | (1 << 5), 0, 64, 0, true);
  cut.resize(6 + 50);
  gw_fuzz::write_seed(dir, "header-cut", cut);
  for (int peer : {1, 5}) {
    std::vector<uint8_t> seed = {static_cast<uint8_t>(1 | (peer << 5)), 0, 0, 0, 0, 0};
    uint8_t notice[gw::kAbandonNoticeBytes];
    gw::write_abandon_notice(notice, peer, 17, GW_ERR_TIMEOUT);
    seed.insert(seed.end(), notice, notice + sizeof(notice));
    gw_fuzz::write_seed(dir, "notice-peer" + std::to_string(peer), seed);
    seed.pop_back();
    gw_fuzz::write_seed(dir, "notice-cut-peer" + std::to_string(peer), seed);
  }
}
