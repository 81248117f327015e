// eden through real MPI ranks: every rank gets the same bits; the mean is
// within the codec's error of the exact one (4 bits: normalized MSE about
// 0.01 per rank's vector); a bucket of several layers, one of them eden, keeps
// the other layers exact; bytes are about bits/32 of fp32.
#include <gtest/gtest.h>
#include <mpi.h>

#include "tests/mpi/mpi_test_util.h"

namespace gwtest {
namespace {

TEST(Eden, TheMeanIsCloseAndBitIdenticalOnEveryRank) {
  const int me = world_rank(), n = world_size();
  const size_t count = 20011;  // prime: padded to 16384 + 4096 rotated values
  for (int bits : {2, 4}) {
    CommGuard comm("compressor=eden:bits=" + std::to_string(bits));
    for (int step = 0; step < 3; ++step) {
      std::vector<float> g = make_input(me, count, 700u + static_cast<uint32_t>(step)), out(count);
      ASSERT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      ASSERT_TRUE(same_on_all_ranks(out.data(), count * 4));
      const double err = rel_error(out, exact_mean(n, count, 700u + static_cast<uint32_t>(step)));
      EXPECT_LT(err, bits == 4 ? 0.1 : 0.4) << bits << " bits, step " << step;
      EXPECT_GT(err, 1e-4) << "quantized, not exact";
    }
    gw_stats st;
    ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
    const double per_call = static_cast<double>(st.bytes_sent) / 3 / (n - 1);
    EXPECT_LT(per_call, (20480.0 * bits / 8 + 2 * 4 + 80) * 1.01) << bits;
  }
}

TEST(Eden, OtherLayersOfTheCallStayExact) { expect_other_layer_exact("eden:bits=3", 5000); }

}  // namespace
}  // namespace gwtest
