// A Byzantine sender on the wire, through the attack harness's wire kinds
// (config attack=malformed|truncated|oversized|garbage; src/robust/wire_attack.h):
// the last rank's transport rewrites the messages it sends (after gradwire
// built and sealed them) into what a hostile peer could send: a header whose
// length lies under a valid checksum, a message cut short, one far longer
// than the receivers' buffers, or garbage payload bytes under a valid
// checksum. The honest ranks must never crash, read or write out of bounds
// (the sanitized run checks), hang or disagree: each bad frame is a named
// error on every honest rank, and garbage under a valid checksum may spoil
// only the attacker's own contribution, which the median then bounds by the
// honest inputs.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "src/common/hash.h"
#include "tests/mpi/mpi_test_util.h"

namespace gwtest {
namespace {

enum class Wire { kLyingLength, kTruncated, kOversized, kGarbageSealed };
const char* const kAttackKinds[] = {"malformed", "truncated", "oversized", "garbage"};

struct Case {
  Wire mode;
  const char* config;
  // The codec's own error on an honest row, as a fraction of the honest
  // inputs' whole range (maxmin at 8 bits: one step of 255); < 0: no bound
  // (qsgd's unbiased rounding may land far from any input).
  double codec_error = 0;
};
void PrintTo(const Case& c, std::ostream* os) {
  static const char* const kNames[] = {"lying length", "truncated", "oversized", "garbage under a valid checksum"};
  *os << kNames[static_cast<int>(c.mode)] << ", " << c.config;
}
class WireAttack : public testing::TestWithParam<Case> {};

TEST_P(WireAttack, HonestRanksNameTheAttackerOrBoundItsContribution) {
  if (world_size() < 2) GTEST_SKIP();
  const int me = world_rank(), attacker = world_size() - 1;
  const bool honest = me != attacker;
  const Case c = GetParam();
  const std::string config = std::string("timeout=20;fallback_bytes=0;") + c.config + ";attack=" +
                             kAttackKinds[static_cast<int>(c.mode)] + ":ranks=" + std::to_string(attacker);
  gw_comm_t comm = nullptr;
  ASSERT_EQ(gw_comm_create_mpi(&comm, MPI_COMM_WORLD, config.c_str()), GW_SUCCESS) << gw_last_error();
  struct Destroy {
    gw_comm_t c;
    ~Destroy() { gw_comm_destroy(c); }
  } destroy{comm};
  const size_t n = 3000;
  std::vector<float> send = make_input(me, n, 41), out(n, -7.0f);
  const gw_status st = gw_allreduce(comm, "w", send.data(), out.data(), n, GW_FLOAT32, GW_AVG, nullptr);
  const std::string msg = gw_last_error();
  const std::string named = "rank " + std::to_string(attacker);
  std::vector<Outcome> all = outcomes(st, out);
  all.pop_back();  // the attacker's own view does not count
  for (size_t r = 1; r < all.size(); ++r) {
    EXPECT_EQ(all[r].status, all[0].status) << "honest ranks 0 and " << r << " ended the call differently";
    EXPECT_EQ(all[r].hash, all[0].hash) << "honest ranks 0 and " << r << " hold different results";
  }
  if (!honest) return;
  if (c.mode != Wire::kGarbageSealed) {
    // A frame that cannot be a message: an error naming the sender, on every honest rank.
    EXPECT_EQ(st, GW_ERR_CORRUPT) << msg;
    EXPECT_TRUE(contains(msg, named)) << msg;
    return;
  }
  if (st != GW_SUCCESS) {
    EXPECT_TRUE(contains(msg, named)) << "an error that does not name the attacker: " << msg;
    return;
  }
  // Accepted garbage: only the attacker's row is spoiled. With at least two
  // honest rows the median stays within the honest inputs, coordinate by
  // coordinate (up to the codec's own error).
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(out[i])) << "coordinate " << i << ": " << out[i];
  if (world_size() < 3 || c.codec_error < 0) return;
  float all_lo = INFINITY, all_hi = -INFINITY;
  for (int r = 0; r < attacker; ++r)
    for (size_t i = 0; i < n; ++i) {
      all_lo = std::min(all_lo, input_value(r, i, 41));
      all_hi = std::max(all_hi, input_value(r, i, 41));
    }
  const float slack = static_cast<float>(c.codec_error) * (all_hi - all_lo) + 1e-6f;
  for (size_t i = 0; i < n; ++i) {
    float lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < attacker; ++r) {
      lo = std::min(lo, input_value(r, i, 41));
      hi = std::max(hi, input_value(r, i, 41));
    }
    ASSERT_GE(out[i], lo - slack) << "coordinate " << i;
    ASSERT_LE(out[i], hi + slack) << "coordinate " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Frames, WireAttack,
    testing::Values(Case{Wire::kLyingLength, "compressor=maxmin:bits=8"},
                    Case{Wire::kTruncated, "compressor=maxmin:bits=8"},
                    Case{Wire::kOversized, "compressor=maxmin:bits=8"},
                    Case{Wire::kLyingLength, "robust=median;compressor=maxmin:bits=8"},
                    Case{Wire::kTruncated, "robust=median;compressor=none"},
                    Case{Wire::kOversized, "robust=median;compressor=none"},
                    Case{Wire::kGarbageSealed, "robust=median;compressor=none"},
                    Case{Wire::kGarbageSealed, "robust=median;compressor=maxmin:bits=8", 1.0 / 255},
                    Case{Wire::kGarbageSealed, "robust=median;compressor=qsgd:bits=4", -1}));

}  // namespace
}  // namespace gwtest
