// Gossip messages come from peers and are untrusted: check_gossip_message
// must accept exactly the well-formed ones and name what is wrong with the
// rest (the engine drops those and counts them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "src/common/error.h"
#include "src/gossip/gossip_config.h"
#include "src/gossip/gossip_message.h"

namespace {

constexpr uint64_t kCount = 5, kFingerprint = 0x1234;
constexpr size_t kFp32 = kCount * 4;

std::vector<uint8_t> message(gw::GossipKind kind, int sender, size_t payload_bytes, uint64_t version = 1) {
  gw::GossipHeader h = gw::make_gossip_header(kind, sender, kCount, kFingerprint, 9);
  h.version_published = version;
  std::vector<uint8_t> payload(payload_bytes);
  for (size_t i = 0; i < payload_bytes; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  gw::seal_gossip_header(h, payload.data(), payload_bytes);
  std::vector<uint8_t> m(sizeof h + payload_bytes);
  std::memcpy(m.data(), &h, sizeof h);
  if (payload_bytes) std::memcpy(m.data() + sizeof h, payload.data(), payload_bytes);
  return m;
}

const gw::GossipSizes kSizes{0, kFp32, 0, 0};

std::string check(const std::vector<uint8_t>& m, int source = 2) {
  return gw::check_gossip_message(m.data(), m.size(), source, 4, kCount, kFingerprint, kSizes);
}

TEST(GossipMessage, WellFormedMessagesPass) {
  EXPECT_EQ(check(message(gw::GossipKind::kRequest, 2, 0)), "");
  EXPECT_EQ(check(message(gw::GossipKind::kReply, 2, kFp32)), "");
  EXPECT_EQ(check(message(gw::GossipKind::kReply, 2, 0, /*version=*/0)), "");  // nothing published yet
  EXPECT_EQ(check(message(gw::GossipKind::kDelta, 2, kFp32)), "");
  EXPECT_EQ(check(message(gw::GossipKind::kFinal, 2, 0)), "");
}

TEST(GossipMessage, EveryDamageIsNamed) {
  auto reply = message(gw::GossipKind::kReply, 2, kFp32);
  EXPECT_NE(check(std::vector<uint8_t>(reply.begin(), reply.begin() + 10)).find("shorter"), std::string::npos);
  auto truncated = reply;
  truncated.pop_back();
  EXPECT_NE(check(truncated).find("payload bytes"), std::string::npos);
  auto flipped = reply;
  flipped.back() ^= 1;
  EXPECT_NE(check(flipped).find("payload checksum"), std::string::npos);
  auto header = reply;
  header[20] ^= 1;  // inside the header
  EXPECT_NE(check(header).find("header checksum"), std::string::npos);
  EXPECT_NE(check(reply, /*source=*/3).find("MPI delivered it from rank 3"), std::string::npos);
  EXPECT_NE(check(message(gw::GossipKind::kReply, 2, kFp32 - 4)).find("expected 20"), std::string::npos);
  EXPECT_NE(check(message(gw::GossipKind::kRequest, 2, 4)).find("expected 0"), std::string::npos);
  EXPECT_NE(gw::check_gossip_message(reply.data(), reply.size(), 2, 4, kCount + 1, kFingerprint, kSizes)
                .find("count"),
            std::string::npos);
  EXPECT_NE(gw::check_gossip_message(reply.data(), reply.size(), 2, 4, kCount, kFingerprint + 1, kSizes)
                .find("fingerprint"),
            std::string::npos);
  auto bad_magic = reply;
  bad_magic[0] ^= 0xff;
  EXPECT_NE(check(bad_magic).find("magic"), std::string::npos);
}

TEST(GossipMessage, CodecGroupsAllowHintsAndCodes) {
  const gw::GossipSizes lattice8{8, kFp32, 11, 4};
  auto with = [&](gw::GossipKind kind, size_t payload, uint32_t bits) {
    auto m = message(kind, 2, payload);
    gw::GossipHeader h;
    std::memcpy(&h, m.data(), sizeof h);
    h.codec_bits = bits;
    gw::seal_gossip_header(h, m.data() + sizeof h, payload);
    std::memcpy(m.data(), &h, sizeof h);
    return gw::check_gossip_message(m.data(), m.size(), 2, 4, kCount, kFingerprint, lattice8);
  };
  EXPECT_EQ(with(gw::GossipKind::kRequest, 4, 0), "");   // spacings asked for
  EXPECT_EQ(with(gw::GossipKind::kRequest, 0, 0), "");   // an exact copy asked for
  EXPECT_EQ(with(gw::GossipKind::kReply, 11, 8), "");
  EXPECT_EQ(with(gw::GossipKind::kReply, kFp32, 0), "");
  EXPECT_EQ(with(gw::GossipKind::kDelta, 11, 8), "");
  EXPECT_NE(with(gw::GossipKind::kReply, kFp32, 8), "");  // codes of the wrong size
  EXPECT_NE(with(gw::GossipKind::kReply, 11, 4), "");     // other bits
  EXPECT_NE(with(gw::GossipKind::kRequest, 8, 0), "");
}

TEST(GossipMessage, ResealedHeaderWithBadFieldsStillFails) {
  // A peer that recomputes the checksums cannot pass wrong kinds, ages or codes.
  auto resealed = [](gw::GossipHeader h) {
    gw::seal_gossip_header(h, nullptr, 0);
    std::vector<uint8_t> m(sizeof h);
    std::memcpy(m.data(), &h, sizeof h);
    return m;
  };
  gw::GossipHeader h = gw::make_gossip_header(gw::GossipKind::kRequest, 2, kCount, kFingerprint, 1);
  h.kind = 77;
  EXPECT_NE(check(resealed(h)).find("kind"), std::string::npos);
  h = gw::make_gossip_header(gw::GossipKind::kRequest, 2, kCount, kFingerprint, 1);
  h.age_s = -1;
  EXPECT_NE(check(resealed(h)).find("age"), std::string::npos);
  h = gw::make_gossip_header(gw::GossipKind::kDelta, 2, kCount, kFingerprint, 1);
  h.codec_bits = 8;  // codes in a group without a codec
  EXPECT_NE(check(resealed(h)).find("bits"), std::string::npos);
  h = gw::make_gossip_header(gw::GossipKind::kClosing, 2, kCount, kFingerprint, 1);
  h.codec_bits = 8;
  const gw::GossipSizes lattice8{8, kFp32, 11, 4};
  auto m = resealed(h);
  EXPECT_NE(gw::check_gossip_message(m.data(), m.size(), 2, 4, kCount, kFingerprint, lattice8).find("bits"),
            std::string::npos);
}

TEST(GossipConfig, KeysDefaultsAndErrors) {
  gw::GossipConfig c = gw::parse_gossip_config("timeout=2.5; retry=0 ;codec=none");
  EXPECT_EQ(c.timeout_s, 2.5);
  EXPECT_EQ(c.retry_s, 0.0);
  EXPECT_EQ(c.codec, "none");
  EXPECT_EQ(gw::parse_gossip_config("codec=lattice:bits=8").lattice_bits, 8);
  EXPECT_EQ(gw::parse_gossip_config(nullptr).timeout_s, 30.0);
  EXPECT_THROW(gw::parse_gossip_config("timeout="), gw::Error);
  EXPECT_THROW(gw::parse_gossip_config("codec=lattice:bits=3"), gw::Error);
  EXPECT_THROW(gw::parse_gossip_config("close_timeout=0"), gw::Error);
  EXPECT_THROW(gw::parse_gossip_config("nokey"), gw::Error);
}

// The environment fills keys the string leaves unset (GW_GOSSIP_<KEY>); the
// string wins; an unknown key's error lists the keys with their variables.
TEST(GossipConfig, EnvironmentFillsWhatTheStringLeavesUnset) {
  setenv("GW_GOSSIP_RETRY", " 4 ", 1);
  setenv("GW_GOSSIP_TIMEOUT", "7", 1);
  gw::GossipConfig c = gw::parse_gossip_config("timeout=2");
  EXPECT_EQ(c.timeout_s, 2.0);
  EXPECT_EQ(c.retry_s, 4.0);
  setenv("GW_GOSSIP_RETRY", "soon", 1);
  try {
    gw::parse_gossip_config("");
    ADD_FAILURE() << "a bad GW_GOSSIP_RETRY was accepted";
  } catch (const gw::Error& e) {
    EXPECT_NE(std::string(e.what()).find("environment GW_GOSSIP_RETRY"), std::string::npos) << e.what();
  }
  unsetenv("GW_GOSSIP_RETRY");
  unsetenv("GW_GOSSIP_TIMEOUT");
  try {
    gw::parse_gossip_config("timeot=1");
    ADD_FAILURE() << "an unknown key was accepted";
  } catch (const gw::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown gossip config key 'timeot'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("close_timeout (GW_GOSSIP_CLOSE_TIMEOUT, default 300)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
