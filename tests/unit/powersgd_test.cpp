// powersgd's pieces on one process: the BLAS products against plain loops, the
// orthonormalization against its definition (also on an ill-conditioned input), the shared
// normal generator's moments, the layout decisions against PyTorch's
// _should_compress, and the spec's canonical form and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compressors/powersgd/low_rank.h"
#include "compressors/powersgd/powersgd.h"
#include "src/common/error.h"
#include "src/spec/registry.h"

#include "tests/unit/codec_test_util.h"

namespace gw {
namespace {

TEST(LowRank, ProductsEqualPlainLoops) {
  if (!low_rank::available()) GTEST_SKIP() << "no BLAS in this build";
  const size_t rows = 37, cols = 23, r = 3;
  std::vector<float> M = test::gaussian(rows * cols, 1), Q = test::gaussian(cols * r, 2), P = test::gaussian(rows * r, 3);
  std::vector<float> P_got(rows * r), Q_got(cols * r), out(rows * cols);
  low_rank::mul_mq(M.data(), rows, cols, Q.data(), r, P_got.data());
  low_rank::mul_mtp(M.data(), rows, cols, P.data(), r, Q_got.data());
  std::vector<float> E = test::gaussian(rows * cols, 4), E0 = E, out2(rows * cols);
  low_rank::mul_pqt(P.data(), Q.data(), rows, cols, r, out.data());
  low_rank::mul_pqt(P.data(), Q.data(), rows, cols, r, out2.data(), E.data(), 3.0f);
  for (size_t i = 0; i < rows * cols; ++i) {
    EXPECT_EQ(E[i], E0[i] - out[i]);        // the residual takes the unscaled product
    EXPECT_EQ(out2[i], out[i] * 3.0f);     // then the result is scaled
  }
  for (size_t i = 0; i < rows; ++i)
    for (size_t k = 0; k < r; ++k) {
      double want = 0;
      for (size_t j = 0; j < cols; ++j) want += double(M[i * cols + j]) * Q[k * cols + j];
      EXPECT_NEAR(P_got[k * rows + i], want, 1e-4) << i << "," << k;
    }
  for (size_t j = 0; j < cols; ++j)
    for (size_t k = 0; k < r; ++k) {
      double want = 0;
      for (size_t i = 0; i < rows; ++i) want += double(M[i * cols + j]) * P[k * rows + i];
      EXPECT_NEAR(Q_got[k * cols + j], want, 1e-4) << j << "," << k;
    }
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      double want = 0;
      for (size_t k = 0; k < r; ++k) want += double(P[k * rows + i]) * Q[k * cols + j];
      EXPECT_NEAR(out[i * cols + j], want, 1e-4);
    }
}

TEST(LowRank, OrthonormalizeGivesOrthonormalColumnsSpanningTheSameSpace) {
  for (size_t r : {1, 2, 3, 8}) {  // Gram-Schmidt, re-orthogonalized above 2
    const size_t rows = 50;
    std::vector<float> A = test::gaussian(rows * r, 10 + static_cast<unsigned>(r)), Q = A;
    low_rank::orthonormalize(Q.data(), rows, r);
    for (size_t a = 0; a < r; ++a)
      for (size_t b = 0; b < r; ++b) {
        double dot = 0;
        for (size_t i = 0; i < rows; ++i) dot += double(Q[a * rows + i]) * Q[b * rows + i];
        EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5) << "r=" << r << " columns " << a << "," << b;
      }
    // Column a of A lies in the span of Q's first a+1 columns (A = QR, R upper triangular).
    for (size_t a = 0; a < r; ++a) {
      double resid = 0, norm = 0;
      for (size_t i = 0; i < rows; ++i) {
        double proj = 0;
        for (size_t b = 0; b <= a; ++b) {
          double c = 0;
          for (size_t k = 0; k < rows; ++k) c += double(Q[b * rows + k]) * A[a * rows + k];
          proj += c * Q[b * rows + i];
        }
        resid += (A[a * rows + i] - proj) * (A[a * rows + i] - proj);
        norm += double(A[a * rows + i]) * A[a * rows + i];
      }
      EXPECT_LT(std::sqrt(resid / norm), 1e-5) << "r=" << r << " column " << a;
    }
  }
  // Gram-Schmidt keeps a zero column zero (no NaN from 0/0).
  std::vector<float> Z(20, 0.0f);
  for (size_t i = 10; i < 20; ++i) Z[i] = static_cast<float>(i);
  low_rank::orthonormalize(Z.data(), 10, 2);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(Z[i], 0.0f);
  for (float v : Z) EXPECT_TRUE(std::isfinite(v));
}

TEST(LowRank, SharedNormalsHaveUnitMomentsAndDependOnlyOnTheKey) {
  const size_t n = 200001;  // odd: the last pair is cut
  std::vector<float> a(n), b(n), c(n);
  low_rank::fill_normal(a.data(), n, 42);
  low_rank::fill_normal(b.data(), n, 42);
  low_rank::fill_normal(c.data(), n, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double mean = 0, var = 0;
  for (float x : a) mean += x;
  mean /= n;
  for (float x : a) var += (x - mean) * (x - mean);
  var /= n - 1;
  // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
  EXPECT_LT(std::abs(mean), 0.011);
  EXPECT_LT(std::abs(var - 1.0), 0.016);
}

const PowerSgdCompressor& codec(const std::string& spec) {
  static std::vector<std::shared_ptr<const Compressor>> keep;
  keep.push_back(make_compressor(spec));
  return dynamic_cast<const PowerSgdCompressor&>(*keep.back());
}

TEST(PowerSgdLayout, CompressesWhatPyTorchsHookCompresses) {
  if (!low_rank::available()) GTEST_SKIP() << "no BLAS in this build";
  const PowerSgdCompressor& c = codec("powersgd:rank=4");
  // (rows + cols) r min_rate < rows cols, r = min(rows, cols, rank).
  struct Case { std::vector<int64_t> shape; bool compress; size_t r; };
  for (const Case& k : std::vector<Case>{{{64, 256}, true, 4}, {{10, 10}, false, 0}, {{10, 64}, true, 4},
                                         {{32, 1, 5, 5}, true, 4}, {{3, 1000}, false, 0}, {{100}, false, 0},
                                         {{}, false, 0}}) {
    size_t count = 1;
    for (int64_t d : k.shape) count *= static_cast<size_t>(d);
    if (k.shape.empty()) count = 100;
    RoundLayout l = c.layout(k.shape, count, 0, 2);
    EXPECT_EQ(l.rounds > 0, k.compress) << l.describe;
    if (k.compress) {
      EXPECT_EQ(l.round_elems[0], static_cast<size_t>(k.shape[0]) * k.r);
      EXPECT_EQ(l.round_elems[1], count / static_cast<size_t>(k.shape[0]) * k.r);
    }
  }
  // The rank is clamped to min(rows, cols), as PyTorch does; min_rate=0 compresses any matrix.
  RoundLayout thin = codec("powersgd:rank=8,min_rate=0").layout({3, 1000}, 3000, 0, 2);
  EXPECT_EQ(thin.rounds, 2);
  EXPECT_EQ(thin.round_elems[0], 9u);
  // Before `start`: exact, but the state (Q) already exists.
  RoundLayout early = codec("powersgd:rank=4,start=3").layout({64, 256}, 64 * 256, 2, 2);
  EXPECT_EQ(early.rounds, 0);
  EXPECT_EQ(early.state_floats, 256u * 4);
  EXPECT_EQ(codec("powersgd:rank=4,start=3").layout({64, 256}, 64 * 256, 3, 2).rounds, 2);
  // A shape that does not hold the count is refused, naming both.
  try {
    c.layout({10, 10}, 120, 0, 2);
    FAIL() << "accepted a 10 x 10 shape for 120 values";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("120"), std::string::npos) << e.what();
  }
}

TEST(PowerSgdSpec, CanonicalFormAndRefusals) {
  if (!low_rank::available()) GTEST_SKIP() << "no BLAS in this build";
  EXPECT_EQ(make_scheme("powersgd")->spec, "powersgd:rank=4,warm=1,min_rate=2,start=0,factors=fp32,ef=1");
  EXPECT_EQ(make_scheme("powersgd:rank=1,ef=0")->spec, "powersgd:rank=1,warm=1,min_rate=2,start=0,factors=fp32,ef=0");
  EXPECT_EQ(codec("powersgd:factors=bf16").factor_codec()->spec(), "bf16");
  test::expect_specs_refused({"powersgd:rank=0", "powersgd:ef=ef21", "powersgd:factors=int8", "powersgd:warm=2",
                              "powersgd:min_rate=-1"},
                             [](const char* t) { make_scheme(t); });
}

}  // namespace
}  // namespace gw
