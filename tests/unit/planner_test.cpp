// L-GreCo's measurement with real codecs (src/planner/candidates.h): errors
// and sizes are what the codecs give, more bits mean less error; and on layers
// that differ (smooth, heavy-tailed, tiny), the knapsack's plan over maxmin's
// bits x bucket grid sends at least 1.5x fewer bytes than uniform 4-bit maxmin
// at no more total error.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "src/common/error.h"
#include "src/planner/candidates.h"
#include "src/planner/knapsack.h"
#include "src/spec/registry.h"
#include "tests/unit/codec_test_util.h"

namespace gw {
namespace planner {
namespace {

std::vector<std::shared_ptr<const Compressor>> grid(std::initializer_list<const char*> specs) {
  std::vector<std::shared_ptr<const Compressor>> v;
  for (const char* s : specs) v.push_back(make_compressor(s));
  return v;
}

TEST(Planner, MeasuresTheCodecsOwnErrorAndSize) {
  const std::vector<float> x = test::gaussian(10000, 3);
  const auto codecs = grid({"none", "maxmin:bits=2", "maxmin:bits=4", "maxmin:bits=8", "fp16"});
  const std::vector<Candidate> c = measure_candidates(x.data(), x.size(), codecs, 7);
  ASSERT_EQ(c.size(), codecs.size());
  EXPECT_EQ(c[0].error, 0.0);
  EXPECT_GT(c[1].error, c[2].error);
  EXPECT_GT(c[2].error, c[3].error);
  EXPECT_GT(c[3].error, 0.0);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].bytes, codecs[i]->encoded_bytes(x.size())) << i;
  // Reproducible: the same key gives the same errors.
  EXPECT_EQ(measure_candidates(x.data(), x.size(), codecs, 7)[2].error, c[2].error);
  std::vector<float> bad = x;
  bad[5] = test::kNaN;
  EXPECT_TRUE(std::isinf(measure_candidates(bad.data(), bad.size(), codecs, 7)[2].error));
  try {
    measure_candidates(x.data(), x.size(), grid({"powersgd:rank=2"}), 7);
    ADD_FAILURE() << "low rank measured by one encode";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_UNSUPPORTED);
  }
}

TEST(Planner, AHeterogeneousModelSendsFewerBytesThanUniformAtNoMoreError) {
  // Four "layers": a large smooth one, a heavy-tailed one, one of tiny values,
  // a small one of large values.
  std::mt19937 g(1);
  std::student_t_distribution<float> heavy(1.5f);
  std::vector<std::vector<float>> layers = {test::gaussian(200000, 1, 0.01f), std::vector<float>(50000),
                                            test::gaussian(100000, 2, 1e-4f), test::gaussian(5000, 3, 3.0f)};
  for (float& v : layers[1]) v = 0.1f * heavy(g);
  std::vector<std::shared_ptr<const Compressor>> codecs;
  for (int bits : {2, 3, 4, 6, 8})
    for (int bucket : {128, 512, 2048})
      codecs.push_back(make_compressor("maxmin:bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket)));
  const size_t uniform_index = 2 * 3 + 1;  // maxmin:bits=4,bucket=512, the default
  ASSERT_EQ(codecs[uniform_index]->spec(), make_compressor("maxmin:bits=4")->spec());
  std::vector<std::vector<Candidate>> cands;
  double budget = 0;
  uint64_t uniform = 0;
  for (const auto& l : layers) {
    cands.push_back(measure_candidates(l.data(), l.size(), codecs, 11));
    budget += cands.back()[uniform_index].error;
    uniform += cands.back()[uniform_index].bytes;
  }
  const Plan p = solve_knapsack(cands, budget);
  ASSERT_TRUE(p.feasible);
  EXPECT_LE(p.error, budget);
  std::string chosen;
  for (size_t l = 0; l < layers.size(); ++l) chosen += codecs[p.choice[l]]->spec() + " ";
  EXPECT_LT(p.bytes * 1.5, static_cast<double>(uniform)) << chosen << p.bytes << " vs " << uniform;
  std::printf("plan: %s-> %llu bytes vs uniform %llu (%.2fx), error %.4g vs %.4g\n", chosen.c_str(),
              static_cast<unsigned long long>(p.bytes), static_cast<unsigned long long>(uniform),
              static_cast<double>(uniform) / p.bytes, p.error, budget);
}

}  // namespace
}  // namespace planner
}  // namespace gw
