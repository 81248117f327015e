// The wire format: a receiver must reject every damaged or foreign message
// with the right status and a message naming the peer, never read past it.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "src/common/error.h"
#include "src/wire/checksum.h"
#include "src/wire/header.h"

namespace gw {
namespace {

PlanFingerprint plan() {
  PlanFingerprint p;
  p.kind = 1;
  p.op = GW_AVG;
  p.dtype = GW_FLOAT32;
  p.algorithm = 1;
  p.num_layers = 1;
  p.count = 1000;
  p.layers_hash = 0x1234;
  p.specs_hash = 0x5678;
  p.chunk_elems = 1 << 20;
  return p;
}

std::vector<uint8_t> message(size_t payload, const PlanFingerprint& p, uint16_t flags = 0) {
  std::vector<uint8_t> m(sizeof(MessageHeader) + payload);
  for (size_t i = 0; i < payload; ++i) m[sizeof(MessageHeader) + i] = static_cast<uint8_t>(i * 7 + 1);
  write_header(m.data(), p, 42, 3, 2, flags, 0, payload, true);
  return m;
}

gw_status status_of(const std::vector<uint8_t>& m, size_t received, const PlanFingerprint& p, size_t expected,
                    std::string* what = nullptr) {
  try {
    validate_message(m.data(), received, 2, 0, p, 42, 3, expected, true, "test", false);
  } catch (const Error& e) {
    if (what) *what = e.what();
    return e.status();
  }
  return GW_SUCCESS;
}

TEST(Crc32c, KnownVector) {
  // The standard check value of CRC-32C.
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
  std::vector<uint8_t> big(100003);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + 7);
  uint32_t whole = crc32c(big.data(), big.size());
  uint32_t split = crc32c(big.data() + 5000, big.size() - 5000, crc32c(big.data(), 5000));
  EXPECT_EQ(whole, split);
}

TEST(Crc32c, LongBuffersMatchBitwiseReference) {
  // The fast path splits long buffers into three streams; every length and
  // alignment must still give the plain bit-at-a-time CRC.
  auto reference = [](const uint8_t* p, size_t n) {
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; ++i) {
      c ^= p[i];
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
  };
  const size_t max_n = 69999, max_off = 3;
  std::vector<uint8_t> buf(max_off + max_n);  // the longest length at the largest offset stays inside
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  for (size_t n : {size_t(0), size_t(1), size_t(12287), size_t(12288), size_t(12289), size_t(40000), max_n})
    for (size_t off : {size_t(0), size_t(1), max_off})
      EXPECT_EQ(crc32c(buf.data() + off, n), reference(buf.data() + off, n)) << n << " at +" << off;
}

TEST(Wire, ValidMessagePasses) {
  auto m = message(100, plan());
  EXPECT_EQ(status_of(m, m.size(), plan(), 100), GW_SUCCESS);
}

TEST(Wire, EveryFlippedByteIsCaught) {
  auto good = message(64, plan());
  for (size_t i = 0; i < good.size(); ++i) {
    auto m = good;
    m[i] ^= 0x10;
    gw_status s = status_of(m, m.size(), plan(), 64);
    EXPECT_TRUE(s == GW_ERR_CORRUPT || s == GW_ERR_MISMATCH) << "byte " << i << " status " << s;
  }
}

TEST(Wire, TruncatedIsCorruptAndNamesSender) {
  auto m = message(100, plan());
  std::string what;
  EXPECT_EQ(status_of(m, m.size() - 1, plan(), 100, &what), GW_ERR_CORRUPT);
  EXPECT_NE(what.find("rank 2"), std::string::npos) << what;
  EXPECT_EQ(status_of(m, 10, plan(), 100), GW_ERR_CORRUPT);
  EXPECT_EQ(status_of(m, 0, plan(), 100), GW_ERR_CORRUPT);
}

TEST(Wire, PlanDisagreementIsMismatchNamingField) {
  PlanFingerprint theirs = plan();
  theirs.count = 999;
  auto m = message(100, theirs);
  std::string what;
  EXPECT_EQ(status_of(m, m.size(), plan(), 100, &what), GW_ERR_MISMATCH);
  EXPECT_NE(what.find("element count"), std::string::npos) << what;
  EXPECT_NE(what.find("999"), std::string::npos) << what;
  theirs = plan();
  theirs.specs_hash ^= 1;
  m = message(100, theirs);
  EXPECT_EQ(status_of(m, m.size(), plan(), 100, &what), GW_ERR_MISMATCH);
  EXPECT_NE(what.find("compressor spec"), std::string::npos) << what;
}

TEST(Wire, UnexpectedPayloadLengthIsCorrupt) {
  auto m = message(90, plan());
  EXPECT_EQ(status_of(m, m.size(), plan(), 100), GW_ERR_CORRUPT);
}

// A valid CRC over a header that names another sender: forged or misrouted,
// so damaged (CORRUPT, as header.h says), not a disagreement between ranks.
TEST(Wire, ForgedSenderIsCorrupt) {
  std::vector<uint8_t> m(sizeof(MessageHeader) + 16);
  write_header(m.data(), plan(), 42, 3, /*sender=*/5, 0, 0, 16, true);
  std::string what;
  EXPECT_EQ(status_of(m, m.size(), plan(), 16, &what), GW_ERR_CORRUPT);
  EXPECT_NE(what.find("names sender 5"), std::string::npos) << what;
}

// Layer and spec fingerprints are 64 bits: a difference in the high half alone
// (which the 32-bit ones folded away) is still a mismatch.
TEST(Wire, FingerprintsKeepAll64Bits) {
  PlanFingerprint theirs = plan();
  theirs.layers_hash ^= 1ull << 40;
  auto m = message(100, theirs);
  std::string what;
  EXPECT_EQ(status_of(m, m.size(), plan(), 100, &what), GW_ERR_MISMATCH);
  EXPECT_NE(what.find("layer names"), std::string::npos) << what;
}

TEST(Wire, AbortMessagePassesWithFlag) {
  auto m = message(0, plan(), kFlagAbort);
  ReceivedMessage r = validate_message(m.data(), m.size(), 2, 0, plan(), 42, 3, 100, true, "t", false);
  EXPECT_TRUE(r.header->flags & kFlagAbort);
}

}  // namespace
}  // namespace gw

namespace gw {
namespace {

// Messages of variable-size payloads (the lossless stage): the expected length
// is a bound, never exceeded; fixed-size plans still want it exactly.
TEST(Validate, PayloadBoundAcceptsShorterNeverLonger) {
  auto check = [](size_t payload, size_t bound, bool is_bound) {
    std::vector<uint8_t> m = message(payload, plan());
    try {
      validate_message(m.data(), m.size(), 2, 0, plan(), 42, 3, bound, true, "test", false, is_bound);
    } catch (const Error& e) {
      return e.status();
    }
    return GW_SUCCESS;
  };
  EXPECT_EQ(check(60, 100, true), GW_SUCCESS);
  EXPECT_EQ(check(100, 100, true), GW_SUCCESS);
  EXPECT_EQ(check(0, 100, true), GW_SUCCESS);
  EXPECT_EQ(check(101, 100, true), GW_ERR_CORRUPT);
  EXPECT_EQ(check(60, 100, false), GW_ERR_CORRUPT);
  EXPECT_EQ(check(100, 100, false), GW_SUCCESS);
}

}  // namespace
}  // namespace gw
