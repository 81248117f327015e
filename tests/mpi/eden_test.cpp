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

TEST(Eden, OtherLayersOfTheCallStayExact) {
  const int me = world_rank();
  const char* names[] = {"eden.w", "plain.b"};
  const size_t counts[] = {5000, 77}, offsets[] = {0, 5000};
  CommGuard comm("compressor=eden:bits=3");
  CommGuard plain("compressor=none");
  ASSERT_EQ(gw_layer_set_spec(comm, "plain.b", "none"), GW_SUCCESS);
  std::vector<float> g = make_input(me, 5077), out(5077), exact(5077);
  ASSERT_EQ(gw_allreduce_multi(comm, 2, names, offsets, counts, g.data(), out.data(), GW_FLOAT32, GW_SUM, nullptr),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(gw_allreduce_multi(plain, 2, names, offsets, counts, g.data(), exact.data(), GW_FLOAT32, GW_SUM,
                               nullptr),
            GW_SUCCESS);
  for (size_t i = 5000; i < 5077; ++i) ASSERT_EQ(out[i], exact[i]);
  ASSERT_TRUE(same_on_all_ranks(out.data(), out.size() * 4));
}

}  // namespace
}  // namespace gwtest
