// powersgd through real MPI ranks: a low-rank mean is recovered to fp
// tolerance; with error feedback nothing is lost over many steps; every rank
// gets the same bits; a bucket of several layers costs two exchanges; the
// first `start` calls and the layers that would not shrink are exact; state
// saved, restored in a fresh communicator and continued equals an
// uninterrupted run; ranks disagreeing on shape or rank are GW_ERR_MISMATCH
// naming a peer; a shape that does not hold the count, and NaN, are named errors.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <random>

#include "compressors/powersgd/low_rank.h"
#include "tests/mpi/mpi_test_util.h"

namespace gwtest {
namespace {

// Every test: a build without BLAS refuses powersgd specs (GW_ERR_UNSUPPORTED), nothing to run.
class PowerSgd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gw::low_rank::available()) GTEST_SKIP() << "this build has no BLAS (powersgd is GW_ERR_UNSUPPORTED)";
  }
};

std::vector<float> step_input(int r, size_t n, int step) { return make_input(r, n, 5000u + static_cast<uint32_t>(step)); }

void set_shape(gw_comm_t c, const char* layer, std::vector<int64_t> dims) {
  ASSERT_EQ(gw_layer_set_shape(c, layer, static_cast<int>(dims.size()), dims.data()), GW_SUCCESS) << gw_last_error();
}

// The floats of a state record (src/scheme/state_record.h, version 3 or 4): the
// residual (count floats, with ef=1) then the scheme's own (Q).
struct StateFloats {
  uint64_t count = 0, extra = 0;
  uint32_t vectors = 0;
  std::vector<float> values;
};
StateFloats parse_state(const std::vector<uint8_t>& rec) {
  StateFloats s;
  size_t at = 4 + 4 + 8 + 8 + 6 * 8 + 4 * 8;
  uint32_t spec_len;
  std::memcpy(&spec_len, rec.data() + at, 4);
  at += 4 + spec_len + 4;
  std::memcpy(&s.count, rec.data() + at, 8);
  std::memcpy(&s.vectors, rec.data() + at + 8, 4);
  std::memcpy(&s.extra, rec.data() + at + 12, 8);
  at += 20;
  s.values.resize(s.vectors * s.count + s.extra);
  std::memcpy(s.values.data(), rec.data() + at, s.values.size() * 4);
  return s;
}

// Rank q's gradient: U diag(s_q) V^T with U, V shared by all ranks, so the
// mean over ranks has rank r exactly.
std::vector<float> low_rank_input(int q, size_t rows, size_t cols, size_t r, int step) {
  std::mt19937 shared(7), own(100 * q + step);
  std::normal_distribution<float> nd;
  std::vector<float> U(rows * r), V(cols * r), s(r), g(rows * cols, 0.0f);
  for (float& x : U) x = nd(shared);
  for (float& x : V) x = nd(shared);
  for (float& x : s) x = 1.0f + std::abs(nd(own));
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j)
      for (size_t k = 0; k < r; ++k) g[i * cols + j] += U[i * r + k] * s[k] * V[j * r + k];
  return g;
}

TEST_F(PowerSgd, ALowRankMeanIsRecoveredToFpToleranceAndIsBitIdentical) {
  const int me = world_rank(), n = world_size();
  const size_t rows = 64, cols = 48, r = 4;
  struct Case { const char* spec; double tol; };
  // fp16 / bf16 factors: their rounding (2^-11, 2^-8 relative) bounds the error instead.
  for (const Case& k : {Case{"powersgd:rank=4,ef=0", 2e-5}, Case{"powersgd:rank=4", 2e-5},
                        Case{"powersgd:rank=2,ef=0", 2e-5}, Case{"powersgd:rank=4,ef=0,factors=fp16", 3e-3},
                        Case{"powersgd:rank=4,ef=0,factors=bf16", 2e-2}}) {
    const char* spec = k.spec;
    CommGuard comm(std::string("compressor=") + spec);
    set_shape(comm, "w", {int64_t(rows), int64_t(cols)});
    // rank=2 on a rank-2 mean; rank=4 on a rank-4 one.
    const size_t true_rank = std::strstr(spec, "rank=2") != nullptr ? 2 : r;
    for (int step = 0; step < 4; ++step) {
      std::vector<float> g = low_rank_input(me, rows, cols, true_rank, step), out(g.size());
      ASSERT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), g.size(), GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      std::vector<double> want(g.size(), 0.0);
      for (int q = 0; q < n; ++q) {
        std::vector<float> gq = low_rank_input(q, rows, cols, true_rank, step);
        for (size_t i = 0; i < g.size(); ++i) want[i] += gq[i] / n;
      }
      EXPECT_LT(rel_error(out, want), k.tol) << spec << " step " << step;
      if (k.tol > 1e-4) EXPECT_GT(rel_error(out, want), 1e-6) << spec << ": the factors did not travel in 16 bits";
      ASSERT_TRUE(same_on_all_ranks(out.data(), out.size() * 4)) << spec;
    }
    gw_stats st;
    ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
    // (rows + cols) r values per rank and message instead of rows cols (2 bytes each with 16-bit factors).
    const uint64_t value_bytes = k.tol > 1e-4 ? 2 : 4;
    EXPECT_EQ(st.bytes_sent, 4u * static_cast<uint64_t>(n - 1) * ((rows + cols) * true_rank * value_bytes + 2 * 80)) << spec;
  }
}

TEST_F(PowerSgd, ErrorFeedbackLosesNothingOverManySteps) {
  const int me = world_rank(), n = world_size();
  const size_t rows = 40, cols = 30, count = rows * cols;
  const int steps = 15;
  CommGuard comm("compressor=powersgd:rank=2");
  set_shape(comm, "w", {int64_t(rows), 5, 6});  // conv-like: rows x (5*6)
  std::vector<double> sent(count, 0.0), inputs(count, 0.0);
  for (int t = 0; t < steps; ++t) {
    std::vector<float> g = step_input(me, count, t), out(count);
    ASSERT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
        << gw_last_error();
    for (size_t i = 0; i < count; ++i) sent[i] += out[i];
    for (int q = 0; q < n; ++q) {
      std::vector<float> gq = step_input(q, count, t);
      for (size_t i = 0; i < count; ++i) inputs[i] += gq[i];
    }
  }
  StateFloats s = parse_state(save_layer_state(comm, "w"));
  ASSERT_EQ(s.vectors, 1u);
  ASSERT_EQ(s.count, count);
  ASSERT_EQ(s.extra, cols * 2);
  std::vector<double> residual(count), total(count);
  for (size_t i = 0; i < count; ++i) residual[i] = s.values[i];
  MPI_Allreduce(residual.data(), total.data(), static_cast<int>(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  // Sum of the results (GW_SUM) + every rank's final residual == sum of every input.
  double worst = 0, scale = 0;
  for (size_t i = 0; i < count; ++i) {
    worst = std::max(worst, std::abs(sent[i] + total[i] - inputs[i]));
    scale = std::max(scale, std::abs(inputs[i]));
  }
  EXPECT_LT(worst, 1e-4 * scale * steps);
  // And compression did lose something in each step (the test can fail).
  double res_norm = 0;
  for (double v : total) res_norm += v * v;
  EXPECT_GT(res_norm, 0.0);
}

TEST_F(PowerSgd, ABucketOfLayersCostsTwoExchangesAndItsExactLayersAreExact) {
  const int me = world_rank(), n = world_size();
  // Two matrices, a bias, a matrix too small to gain (rows + cols) r 2 >= rows cols, a layer with no shape.
  const char* names[] = {"fc1.weight", "fc1.bias", "fc2.weight", "tiny.weight", "noshape"};
  const size_t counts[] = {96 * 80, 96, 10 * 96, 4 * 4, 300};
  size_t offsets[5], total = 0;
  for (int i = 0; i < 5; ++i) {
    offsets[i] = total;
    total += counts[i];
  }
  CommGuard comm("compressor=powersgd:rank=4,ef=0");
  CommGuard plain("compressor=none");
  for (gw_comm_t c : {comm.comm, plain.comm}) {
    set_shape(c, "fc1.weight", {96, 80});
    set_shape(c, "fc1.bias", {96});
    set_shape(c, "fc2.weight", {10, 96});
    set_shape(c, "tiny.weight", {4, 4});
  }
  std::vector<float> g = step_input(me, total, 0), out(total), exact(total);
  ASSERT_EQ(gw_allreduce_multi(comm, 5, names, offsets, counts, g.data(), out.data(), GW_FLOAT32, GW_AVG, nullptr),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_EQ(gw_allreduce_multi(plain, 5, names, offsets, counts, g.data(), exact.data(), GW_FLOAT32, GW_AVG,
                               nullptr),
            GW_SUCCESS)
      << gw_last_error();
  ASSERT_TRUE(same_on_all_ranks(out.data(), total * 4));
  for (int i : {1, 3, 4})  // bias, tiny, no shape: the plain mean, bit for bit
    for (size_t k = offsets[i]; k < offsets[i] + counts[i]; ++k) ASSERT_EQ(out[k], exact[k]) << names[i];
  // The matrices are approximated (random inputs: not exact, but correlated).
  double dot = 0, nn = 0;
  for (size_t k = 0; k < counts[0]; ++k) {
    dot += out[k] * exact[k];
    nn += exact[k] * exact[k];
  }
  EXPECT_GT(dot, 0.0);
  EXPECT_LT(dot, nn);
  // Two exchanges: every rank sends (exact layers + P) to its peers in the first and Q in the second;
  // the message headers are 80 bytes each.
  gw_stats st;
  ASSERT_EQ(gw_comm_stats(comm, &st), GW_SUCCESS);
  const uint64_t values = 96 + 16 + 300 + (96 + 80) * 4 + (10 + 96) * 4;
  const uint64_t peers = static_cast<uint64_t>(n - 1);
  EXPECT_EQ(st.bytes_sent, peers * (4 * values + 2 * 80)) << "allgather of the bucket in two exchanges";
}

TEST_F(PowerSgd, StartStepsAreExactAndStateSavedRestoredAndContinuedIsIdentical) {
  const int me = world_rank();
  const size_t rows = 32, cols = 24, count = rows * cols;
  const std::string cfg = "compressor=powersgd:rank=3,start=2";
  std::vector<std::vector<float>> uninterrupted;
  std::vector<uint8_t> saved;
  {
    CommGuard comm(cfg);
    CommGuard plain("compressor=none");
    set_shape(comm, "w", {int64_t(rows), int64_t(cols)});
    for (int t = 0; t < 6; ++t) {
      std::vector<float> g = step_input(me, count, t), out(count), exact(count);
      ASSERT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(gw_allreduce(plain, "w", g.data(), exact.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
      if (t < 2) ASSERT_EQ(out, exact) << "start=2: call " << t << " is exact";
      else ASSERT_NE(out, exact) << "call " << t << " is compressed";
      uninterrupted.push_back(out);
      if (t == 3) saved = save_layer_state(comm, "w");
    }
  }
  CommGuard fresh(cfg);
  set_shape(fresh, "w", {int64_t(rows), int64_t(cols)});
  ASSERT_EQ(gw_layer_load_state(fresh, "w", saved.data(), saved.size()), GW_SUCCESS) << gw_last_error();
  for (int t = 4; t < 6; ++t) {
    std::vector<float> g = step_input(me, count, t), out(count);
    ASSERT_EQ(gw_allreduce(fresh, "w", g.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
        << gw_last_error();
    ASSERT_EQ(out, uninterrupted[t]) << "continued call " << t;
  }
  // A record saved for another shape is not used silently: the next call resets it, counted.
  CommGuard other(cfg);
  set_shape(other, "w", {int64_t(cols), int64_t(rows)});
  ASSERT_EQ(gw_layer_load_state(other, "w", saved.data(), saved.size()), GW_SUCCESS) << gw_last_error();
  std::vector<float> g = step_input(me, count, 4), out(count);
  ASSERT_EQ(gw_allreduce(other, "w", g.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS);
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(other, "w", &st), GW_SUCCESS);
  EXPECT_EQ(st.state_resets, 1u);
}

TEST_F(PowerSgd, RanksDisagreeingOnShapeOrRankAreAMismatchNamingAPeer) {
  const int me = world_rank();
  const size_t count = 48 * 64;
  for (int variant = 0; variant < 2; ++variant) {
    const std::string spec = variant == 1 && me == 1 ? "powersgd:rank=2" : "powersgd:rank=4";
    CommGuard comm("compressor=" + spec);
    if (variant == 0 && me == 1) set_shape(comm, "w", {64, 48});
    else set_shape(comm, "w", {48, 64});
    std::vector<float> g = step_input(me, count, 0), out(count);
    gw_status s = gw_allreduce(comm, "w", g.data(), out.data(), count, GW_FLOAT32, GW_AVG, nullptr);
    const std::string err = gw_last_error();
    EXPECT_EQ(s, GW_ERR_MISMATCH) << err;
    EXPECT_TRUE(contains(err, "rank")) << err;
  }
}

TEST_F(PowerSgd, AShapeThatDoesNotHoldTheCountAndNanAreNamedErrors) {
  const int me = world_rank();
  {
    CommGuard comm("compressor=powersgd");
    set_shape(comm, "w", {10, 10});
    std::vector<float> g(120, 1.0f), out(120);
    EXPECT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), 120, GW_FLOAT32, GW_SUM, nullptr),
              GW_ERR_INVALID_ARGUMENT);
    const std::string err = gw_last_error();
    EXPECT_TRUE(contains(err, "'w'") && contains(err, "120")) << err;
  }
  CommGuard comm("compressor=powersgd:rank=2");
  set_shape(comm, "w", {32, 32});
  std::vector<float> g = step_input(me, 1024, 0), out(1024);
  if (me == 0) g[17] = std::nanf("");
  EXPECT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), 1024, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_NONFINITE);
  EXPECT_TRUE(contains(gw_last_error(), "rank(s) 0")) << gw_last_error();
  gw_stats st;
  ASSERT_EQ(gw_layer_stats(comm, "w", &st), GW_SUCCESS);
  EXPECT_GE(st.state_resets, 1u);  // the residual the NaN reached is dropped
  g[17] = 0.5f;
  EXPECT_EQ(gw_allreduce(comm, "w", g.data(), out.data(), 1024, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
  // nonfinite=propagate: the NaN flows into the factors and the result on every
  // rank, and every rank drops its state (the residual follows the shared result).
  CommGuard loose("compressor=powersgd:rank=2;nonfinite=propagate");
  set_shape(loose, "w", {32, 32});
  if (me == 0) g[17] = std::nanf("");
  ASSERT_EQ(gw_allreduce(loose, "w", g.data(), out.data(), 1024, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_TRUE(std::isnan(out[17]));
  ASSERT_EQ(gw_layer_stats(loose, "w", &st), GW_SUCCESS);
  EXPECT_EQ(st.state_resets, 1u);
  g[17] = 0.25f;
  ASSERT_EQ(gw_allreduce(loose, "w", g.data(), out.data(), 1024, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  for (float v : out) ASSERT_TRUE(std::isfinite(v)) << "a NaN survived in some rank's state";
}

}  // namespace
}  // namespace gwtest
