// The equivocation decision (robust/equivocation.h) on hand-built hash matrices.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "src/robust/equivocation.h"

namespace gw {
namespace {

// The matrix of n honest ranks that all received payload hash 100 + s from sender s.
std::vector<uint64_t> honest(int n) {
  std::vector<uint64_t> m(static_cast<size_t>(n) * n);
  for (int r = 0; r < n; ++r)
    for (int s = 0; s < n; ++s) m[static_cast<size_t>(r) * n + s] = 100 + s;
  return m;
}

TEST(Equivocation, HonestMatrixFlagsNobody) {
  for (int n = 1; n <= 6; ++n) EXPECT_TRUE(equivocating_senders(honest(n).data(), n).empty()) << n;
}

TEST(Equivocation, SenderWithTwoPayloadsIsFlagged) {
  const int n = 4;
  std::vector<uint64_t> m = honest(n);
  m[2 * n + 3] = 999;  // rank 3 sent rank 2 other bytes than ranks 0 and 1
  EXPECT_EQ(equivocating_senders(m.data(), n), std::vector<int>({3}));
}

TEST(Equivocation, SelfReportIsIgnored) {
  const int n = 3;
  std::vector<uint64_t> m = honest(n);
  m[1 * n + 1] = 7;  // rank 1 claims to have sent something else: nobody else saw it
  EXPECT_TRUE(equivocating_senders(m.data(), n).empty());
}

TEST(Equivocation, EverySplitColumnIsFlaggedInRankOrder) {
  const int n = 5;
  std::vector<uint64_t> m = honest(n);
  m[0 * n + 4] = 1;
  m[1 * n + 2] = 1;
  m[3 * n + 2] = 2;
  EXPECT_EQ(equivocating_senders(m.data(), n), std::vector<int>({2, 4}));
}

TEST(Equivocation, TwoRanksCannotCatchAnyone) {
  std::vector<uint64_t> m = {1, 2, 3, 4};  // each column has one report besides the sender's
  EXPECT_TRUE(equivocating_senders(m.data(), 2).empty());
}

TEST(Equivocation, LyingReporterFramesAnHonestSender) {
  // The documented limit of one round: a rank that misreports what it got
  // from an honest sender makes that sender's column split.
  const int n = 4;
  std::vector<uint64_t> m = honest(n);
  m[3 * n + 0] = 5;  // rank 3 lies about rank 0
  EXPECT_EQ(equivocating_senders(m.data(), n), std::vector<int>({0}));
}

TEST(Equivocation, PayloadHashSeesEveryByteAndTheLength) {
  std::vector<uint8_t> a(64, 0x5a), b = a;
  b[63] ^= 1;
  EXPECT_NE(payload_hash(a.data(), a.size()), payload_hash(b.data(), b.size()));
  EXPECT_NE(payload_hash(a.data(), 63), payload_hash(a.data(), 64));
  EXPECT_EQ(payload_hash(a.data(), a.size()), payload_hash(a.data(), a.size()));
}

}  // namespace
}  // namespace gw
