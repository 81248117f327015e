// lgreco through real MPI ranks: on a bucket of layers that differ (smooth,
// heavy-tailed, tiny, large), the plan every rank makes from the errors
// averaged over ranks sends at least 1.5x fewer bytes than uniform 4-bit maxmin
// at no more error of the mean, and every rank holds the same result (a rank
// with another plan would meet GW_ERR_MISMATCH); before the warm-up the layers
// travel in the uniform setting exactly; specs and refusals.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>

#include "tests/mpi/mpi_test_util.h"

namespace gwtest {
namespace {

const char* kNames[] = {"smooth", "heavy", "tiny", "large"};
const size_t kCounts[] = {200000, 50000, 100000, 5000};

// Rank r's bucket: four layers of different scale and shape, each the same
// signal on every rank plus the rank's own noise of 30%.
std::vector<float> bucket(int r, size_t* offsets) {
  std::vector<float> x;
  const float scale[] = {0.01f, 0.1f, 1e-4f, 3.0f};
  for (int l = 0; l < 4; ++l) {
    offsets[l] = x.size();
    std::mt19937 shared(100 + l), own(1000 + 10 * r + l);
    std::normal_distribution<float> gs, go;
    std::student_t_distribution<float> heavy(1.5f);
    for (size_t i = 0; i < kCounts[l]; ++i) {
      const float s = l == 1 ? heavy(shared) : gs(shared);
      x.push_back(scale[l] * (s + 0.3f * go(own)));
    }
  }
  return x;
}

struct Outcome {
  std::vector<float> out;
  uint64_t bytes = 0;
  double sq_error = 0;
  std::vector<std::string> planned;  // each layer's gw_layer_get_planned_spec after the calls
};

Outcome run(const std::string& spec, int calls) {
  const int me = world_rank(), n = world_size();
  size_t offsets[4];
  std::vector<float> x = bucket(me, offsets);
  std::vector<double> mean(x.size(), 0.0);
  for (int r = 0; r < n; ++r) {
    size_t o[4];
    const std::vector<float> y = bucket(r, o);
    for (size_t i = 0; i < y.size(); ++i) mean[i] += y[i] / static_cast<double>(n);
  }
  CommGuard comm("compressor=" + spec);
  Outcome res;
  res.out.resize(x.size());
  for (int c = 0; c < calls; ++c)
    EXPECT_EQ(gw_allreduce_multi(comm, 4, kNames, offsets, kCounts, x.data(), res.out.data(), GW_FLOAT32, GW_AVG,
                                 nullptr),
              GW_SUCCESS)
        << spec << ": " << gw_last_error();
  for (const char* name : kNames) {
    gw_stats st;
    EXPECT_EQ(gw_layer_stats(comm, name, &st), GW_SUCCESS);
    res.bytes += st.bytes_sent;
    char buf[256];
    EXPECT_EQ(gw_layer_get_planned_spec(comm, name, buf, sizeof(buf)), GW_SUCCESS);
    res.planned.push_back(buf);
  }
  for (size_t i = 0; i < x.size(); ++i) res.sq_error += (res.out[i] - mean[i]) * (res.out[i] - mean[i]);
  return res;
}

TEST(Lgreco, APlannedBucketSendsFewerBytesAtNoMoreError) {
  const Outcome uniform = run("maxmin:bits=4", 1);
  const Outcome planned = run("lgreco:warmup=0,period=1000", 1);
  EXPECT_TRUE(same_on_all_ranks(planned.out.data(), planned.out.size() * 4));
  if (world_rank() == 0)
    std::printf("bytes sent: lgreco %llu, uniform maxmin:bits=4 %llu (%.2fx); squared error of the mean %.4g vs %.4g\n",
                static_cast<unsigned long long>(planned.bytes), static_cast<unsigned long long>(uniform.bytes),
                static_cast<double>(uniform.bytes) / planned.bytes, planned.sq_error, uniform.sq_error);
  EXPECT_LT(planned.bytes * 1.5, static_cast<double>(uniform.bytes));
  EXPECT_LT(planned.sq_error, 1.15 * uniform.sq_error);  // the plan's budget is the uniform error (one draw each)
  // The plan is visible: the smooth large layer goes down to 2 bits, the uniform run's layers keep their spec.
  EXPECT_EQ(planned.planned[0], "maxmin:bits=2,bucket=2048");
  EXPECT_EQ(uniform.planned[0], "maxmin:bits=4,bucket=512");
  std::string all;
  for (const std::string& p : planned.planned) all += p + ";";
  EXPECT_TRUE(same_on_all_ranks(all.data(), all.size()));
}

TEST(Lgreco, BeforeTheWarmupTheLayersTravelInTheUniformSetting) {
  const Outcome uniform = run("maxmin:bits=4", 2);
  const Outcome early = run("lgreco:warmup=5", 2);
  EXPECT_EQ(early.bytes, uniform.bytes);
  EXPECT_EQ(early.out, uniform.out);  // the same codec, the same keys: the same bits
  EXPECT_EQ(early.planned, uniform.planned);
}

TEST(Lgreco, SpecsAndRefusals) {
  gw_comm_t comm = nullptr;
  for (const char* bad : {"compressor=lgreco:ef=1", "compressor=lgreco:family=topk", "compressor=lgreco:bits=9",
                          "compressor=lgreco:bits=2||4", "compressor=lgreco:alpha=0", "compressor=lgreco:period=0"}) {
    EXPECT_EQ(gw_comm_create_mpi(&comm, MPI_COMM_WORLD, bad), GW_ERR_INVALID_ARGUMENT) << bad;
  }
  // A plan step on fp16 data is refused on every rank (the errors are measured on fp32).
  CommGuard c("compressor=lgreco:warmup=0");
  std::vector<uint16_t> h(1000, 0x3c00), out(1000);
  EXPECT_EQ(gw_allreduce(c, "w", h.data(), out.data(), h.size(), GW_FLOAT16, GW_AVG, nullptr), GW_ERR_UNSUPPORTED)
      << gw_last_error();
}

}  // namespace
}  // namespace gwtest
