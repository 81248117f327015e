// lattice through real MPI ranks: its error stays flat when a common offset of
// 1e6 is added to every input, while qsgd's grows with it; every rank gets the
// same bits; a planted far-away value is re-sent (counted), not averaged
// wrongly; one beyond every re-send is GW_ERR_CORRUPT on every rank, naming
// the outlier, and the communicator goes on; NaN follows the nonfinite policy;
// ranks that disagree on the spec meet GW_ERR_MISMATCH.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>

#include "tests/mpi/mpi_test_util.h"
#include "tests/mpi/tampering_transport.h"
#include "src/wire/header.h"

namespace gwtest {
namespace {

// Rank r's input: offset + a signal shared by all ranks + its own noise (sigma).
std::vector<float> input(int r, size_t n, double offset, float sigma, uint32_t salt = 0) {
  std::mt19937 shared(11 + salt), own(1000 + 31 * r + salt);
  std::normal_distribution<float> gs, go;  // one each: a distribution may keep a draw for its next call
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const float s = gs(shared);
    x[i] = static_cast<float>(offset + s + sigma * go(own));
  }
  return x;
}

std::vector<double> mean_of(int n, size_t count, double offset, float sigma, uint32_t salt = 0) {
  std::vector<double> m(count, 0.0);
  for (int r = 0; r < n; ++r) {
    const std::vector<float> x = input(r, count, offset, sigma, salt);
    for (size_t i = 0; i < count; ++i) m[i] += x[i] / static_cast<double>(n);
  }
  return m;
}

double rms_error(const std::vector<float>& got, const std::vector<double>& want) {
  double s = 0;
  for (size_t i = 0; i < want.size(); ++i) s += (got[i] - want[i]) * (got[i] - want[i]);
  return std::sqrt(s / static_cast<double>(want.size()));
}

// The RMS error of the averaged result of `spec` at the given offset.
double error_at(const std::string& spec, double offset, size_t count = 50000) {
  const int me = world_rank(), n = world_size();
  CommGuard comm("compressor=" + spec);
  std::vector<float> x = input(me, count, offset, 1.0f), out(count);
  EXPECT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(out.data(), count * 4)) << spec;
  return rms_error(out, mean_of(n, count, offset, 1.0f));
}

TEST(Lattice, ErrorStaysFlatUnderACommonOffsetWhileQsgdsGrows) {
  const double lat0 = error_at("lattice:bits=4,rotate=0", 0), lat6 = error_at("lattice:bits=4,rotate=0", 1e6);
  const double q0 = error_at("qsgd:bits=4", 0), q6 = error_at("qsgd:bits=4", 1e6);
  if (world_rank() == 0)
    std::printf("rms error of the mean, offset 0 -> 1e6: lattice %.4g -> %.4g, qsgd %.4g -> %.4g\n", lat0, lat6,
                q0, q6);
  // fp32 itself resolves 1e6 only to 1/16: the lattice keeps within that of flat.
  EXPECT_LT(lat6, lat0 * 1.1 + 0.03);
  EXPECT_GT(lat0, 1e-3) << "quantized, not exact";
  EXPECT_GT(q6, 1000 * q0);
  EXPECT_GT(q6, 100 * lat6);
  // Rotated, at offset 0: the same kind of error (the rotation keeps norms).
  EXPECT_LT(error_at("lattice:bits=4", 0), 2 * lat0);
}

TEST(Lattice, EveryRankHoldsTheSameSumStepAfterStep) {
  const int me = world_rank(), n = world_size();
  const size_t count = 3 * 4096 + 77;
  // Noise 0.1: the ranks' values lie within about 1 of each other; eps=0.2 reaches 1.4.
  for (const char* spec : {"lattice:bits=2", "lattice:bits=8,rotate=0", "lattice:bits=4,eps=0.2"}) {
    CommGuard comm(std::string("compressor=") + spec);
    for (uint32_t step = 0; step < 3; ++step) {
      std::vector<float> x = input(me, count, 0, 0.1f, step), out(count);
      ASSERT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
          << spec << ": " << gw_last_error();
      ASSERT_TRUE(same_on_all_ranks(out.data(), count * 4)) << spec;
      std::vector<double> want = mean_of(n, count, 0, 0.1f, step);
      for (double& w : want) w *= n;
      // Each rank's error: about the spacing, a fraction of the ranks' spread (2 bits: about all of it).
      const double bound = (spec[13] == '2' ? 0.8 : 0.2) * std::sqrt(static_cast<double>(n));
      EXPECT_LT(rms_error(out, want), bound) << spec;
    }
    gw_stats st;
    ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
    EXPECT_EQ(st.decode_retries, 0u) << spec;
  }
}

TEST(Lattice, AFarValueIsResentNotAveragedWrongly) {
  const int me = world_rank(), n = world_size();
  const size_t count = 20000, far = 12345;
  CommGuard comm("compressor=lattice:bits=4,eps=0.5,rotate=0");  // reach 3.5: the spike needs two re-sends
  std::vector<float> x = input(me, count, 0, 0.1f), out(count);
  if (me == n - 1) x[far] += 100.0f;
  ASSERT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  ASSERT_TRUE(same_on_all_ranks(out.data(), count * 4));
  std::vector<double> want = mean_of(n, count, 0, 0.1f);
  want[far] += 100.0 / n;
  double worst = 0;
  for (size_t i = 0; i < count; ++i)
    if (i / 4096 != far / 4096) worst = std::max(worst, std::fabs(out[i] - want[i]));
  EXPECT_LT(worst, 0.5);                               // other units: the first spacing
  EXPECT_LT(std::fabs(out[far] - want[far]), 256 * 0.5);  // its unit: the spacing it decoded at
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
  EXPECT_EQ(st.decode_retries, 2u);  // one unit, twice
}

TEST(Lattice, BeyondEveryResendIsCorruptOnEveryRankAndTheCommGoesOn) {
  const int me = world_rank(), n = world_size();
  const size_t count = 10000;
  CommGuard comm("compressor=lattice:bits=4,eps=0.01,rotate=0");
  std::vector<float> x = input(me, count, 0, 0.001f), out(count);
  if (me == n - 1) x[7] = 1e6f;
  const gw_status st = gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr);
  const std::string what = gw_last_error();
  EXPECT_EQ(st, GW_ERR_CORRUPT) << what;
  EXPECT_TRUE(contains(what, "layer 'w'")) << what;
  if (n > 2) EXPECT_TRUE(contains(what, "from rank " + std::to_string(n - 1) + " (")) << what;  // named first
  x[7] = 0;
  EXPECT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(out.data(), count * 4));
}

struct Damage {
  size_t at;       // payload byte flipped
  uint64_t units;  // units it spoils
};
class LatticeDamage : public testing::TestWithParam<Damage> {};

TEST_P(LatticeDamage, IsCaughtByTheCheckAndResent) {
  // Checksums off, so only the lattice's own check stands: one byte of rank
  // 0's payload, as the last rank receives it, is flipped (a code, unit 0's
  // spacing, the sender's key). The last rank decodes wrong values there, its
  // check says so, every rank learns it in the check round, and the unit is
  // sent again: every rank holds the same result, close to the mean, and
  // counts the re-send.
  const int me = world_rank(), n = world_size(), victim = n - 1;
  const size_t count = 20000;  // 5 units: the codes start 8 + 5 * 12 bytes into the payload
  TamperingTransport* t = nullptr;
  gw_comm_t comm = tampering_comm(&t, TamperingTransport::kFlipByteAt,
                                  "timeout=60;checksum=0;compressor=lattice:bits=4,eps=0.2,rotate=0");
  t->flip_at = sizeof(gw::MessageHeader) + GetParam().at;
  if (me == victim) t->remaining = 1;
  std::vector<float> x = input(me, count, 0, 0.1f), out(count);
  ASSERT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(same_on_all_ranks(out.data(), count * 4));
  const std::vector<double> want = mean_of(n, count, 0, 0.1f);
  double worst = 0;
  for (size_t i = 0; i < count; ++i) worst = std::max(worst, std::fabs(out[i] - want[i]));
  EXPECT_LT(worst, 16 * 0.2);  // unit 0 again at 16x the spacing
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
  EXPECT_EQ(st.decode_retries, GetParam().units);
  gw_comm_destroy(comm);
  MPI_Barrier(MPI_COMM_WORLD);
}

// A code byte of unit 0, the top byte of unit 0's spacing, a byte of the key (every unit's dither).
INSTANTIATE_TEST_SUITE_P(Bytes, LatticeDamage,
                         testing::Values(Damage{8 + 5 * 12 + 1000, 1}, Damage{8 + 3, 1}, Damage{2, 5}));

TEST(Lattice, NaNFollowsTheNonfinitePolicy) {
  const int me = world_rank();
  const size_t count = 3 * 4096;
  std::vector<float> x = input(me, count, 0, 0.1f), out(count);
  if (me == 0) x[5000] = NAN;  // unit 1
  {
    CommGuard comm("compressor=lattice:rotate=0");
    EXPECT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_ERR_NONFINITE)
        << gw_last_error();
  }
  CommGuard comm("compressor=lattice:rotate=0;nonfinite=propagate");
  ASSERT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  ASSERT_TRUE(same_on_all_ranks(out.data(), count * 4));
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(std::isnan(out[i]), i / 4096 == 1) << i;
}

TEST(Lattice, ARankWithAnotherSpecIsAMismatch) {
  const int me = world_rank();
  CommGuard comm(me == 0 ? "compressor=lattice:bits=4" : "compressor=lattice:bits=8");
  std::vector<float> x = input(me, 5000, 0, 0.1f), out(5000);
  EXPECT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), x.size(), GW_FLOAT32, GW_AVG, nullptr), GW_ERR_MISMATCH)
      << gw_last_error();
}

TEST(Lattice, SmallCallsOnThePlainPathAreExactSums) {
  // Under fallback_bytes every exchange of the call is the exact small-call
  // path: the codes travel as fp32, and the result is the plain mean.
  const int me = world_rank(), n = world_size();
  const size_t count = 1000;
  CommGuard comm("compressor=lattice:bits=4;fallback_bytes=1M");
  CommGuard plain("compressor=none;fallback_bytes=1M");
  std::vector<float> x = input(me, count, 0, 0.1f), out(count), exact(count);
  ASSERT_EQ(gw_allreduce(comm, "w", x.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(gw_allreduce(plain, "w", x.data(), exact.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  const std::vector<double> want = mean_of(n, count, 0, 0.1f);
  // Rotated there and back in fp32: the plain mean to rounding.
  for (size_t i = 0; i < count; ++i) ASSERT_NEAR(out[i], want[i], 1e-5) << i;
  ASSERT_TRUE(same_on_all_ranks(out.data(), count * 4));
}

TEST(Lattice, OtherLayersOfTheCallStayExact) { expect_other_layer_exact("lattice:bits=4", 9000); }

}  // namespace
}  // namespace gwtest
