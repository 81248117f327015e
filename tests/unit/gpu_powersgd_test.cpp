// powersgd's device side (compressors/powersgd/low_rank_device.h) against the
// host's (low_rank.h): P Q^T with the residual update and the scale bit for
// bit (the same products and adds in the same order); the normal fill, the
// cuBLAS products and the orthonormalization within fp32 tolerance, with the
// same signs; zero and NaN columns handled as on the host; guards after every
// output untouched. Skipped, visibly, without a GPU. Compiles without CUDA headers.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "compressors/powersgd/low_rank.h"
#include "compressors/powersgd/low_rank_device.h"
#include "tests/unit/codec_test_util.h"
#include "tests/unit/gpu_test_util.h"

namespace gw {
namespace {

using test::DevBuf;
using test::gaussian;

struct Dims {
  size_t rows, cols, r;
};
const Dims kDims[] = {{37, 53, 3}, {256, 9, 1}, {1000, 129, 2}, {64, 640, 16}, {5, 5, 5}};

void upload(const std::vector<float>& x, DevBuf& d) { d.upload(x.data(), 4 * x.size()); }

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

TEST(GpuPowerSgd, ProductPqtAndResidualUpdateAreBitIdenticalToTheHost) {
  GW_SKIP_WITHOUT_GPU();
  for (const Dims& d : kDims) {
    for (float scale : {1.0f, 4.0f}) {
      const std::vector<float> P = gaussian(d.rows * d.r, 1), Q = gaussian(d.cols * d.r, 2);
      std::vector<float> E = gaussian(d.rows * d.cols, 3), out(d.rows * d.cols);
      DevBuf dP(4 * P.size()), dQ(4 * Q.size()), dE(4 * E.size()), dout(4 * out.size());
      upload(P, dP);
      upload(Q, dQ);
      upload(E, dE);
      low_rank_device::mul_pqt(dP.floats(), dQ.floats(), d.rows, d.cols, d.r, dout.floats(), dE.floats(), scale,
                               nullptr);
      device::synchronize();
      low_rank::mul_pqt(P.data(), Q.data(), d.rows, d.cols, d.r, out.data(), E.data(), scale);
      EXPECT_EQ(dout.download_floats(), out) << d.rows << "x" << d.cols << " r=" << d.r << " scale " << scale;
      EXPECT_EQ(dE.download_floats(), E) << d.rows << "x" << d.cols << " r=" << d.r;
      EXPECT_TRUE(dout.guard_intact() && dE.guard_intact());
    }
  }
}

TEST(GpuPowerSgd, NormalFillMatchesTheHostWithinFloatMath) {
  GW_SKIP_WITHOUT_GPU();
  for (size_t n : {size_t(1), size_t(2), size_t(7), size_t(100001)}) {
    std::vector<float> host(n);
    low_rank::fill_normal(host.data(), n, 0xabcdef12345ull);
    DevBuf d(4 * n);
    low_rank_device::fill_normal(d.floats(), n, 0xabcdef12345ull, nullptr);
    device::synchronize();
    const std::vector<float> dev = d.download_floats();
    for (size_t i = 0; i < n; ++i)
      ASSERT_NEAR(dev[i], host[i], 1e-5 * (1 + std::fabs(host[i]))) << "n " << n << " i " << i;
    EXPECT_TRUE(d.guard_intact());
  }
}

TEST(GpuPowerSgd, OrthonormalizeGivesTheHostsColumnsToWorkingPrecision) {
  GW_SKIP_WITHOUT_GPU();
  for (const Dims& d : kDims) {
    std::vector<float> A = gaussian(d.rows * d.r, 7, 2.0f, 0.5f);  // a mean: columns far from orthogonal
    DevBuf dA(4 * A.size());
    upload(A, dA);
    low_rank_device::orthonormalize(dA.floats(), d.rows, d.r, nullptr);
    device::synchronize();
    low_rank::orthonormalize(A.data(), d.rows, d.r);
    const std::vector<float> got = dA.download_floats();
    for (size_t k = 0; k < A.size(); ++k)
      ASSERT_NEAR(got[k], A[k], 2e-4) << d.rows << "x" << d.r << " element " << k;
    for (size_t i = 0; i < d.r; ++i)
      for (size_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (size_t k = 0; k < d.rows; ++k) dot += static_cast<double>(got[i * d.rows + k]) * got[j * d.rows + k];
        EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5) << d.rows << "x" << d.r << " columns " << i << ", " << j;
      }
    EXPECT_TRUE(dA.guard_intact());
  }
  // A zero column stays zero (and its successors are still normalized); NaN stays NaN.
  const size_t rows = 33;
  std::vector<float> A = gaussian(rows * 3, 9);
  for (size_t k = 0; k < rows; ++k) A[rows + k] = 0.0f;
  DevBuf dA(4 * A.size());
  upload(A, dA);
  low_rank_device::orthonormalize(dA.floats(), rows, 3, nullptr);
  device::synchronize();
  const std::vector<float> got = dA.download_floats();
  for (size_t k = 0; k < rows; ++k) EXPECT_EQ(got[rows + k], 0.0f);
  double n2 = 0;
  for (size_t k = 0; k < rows; ++k) n2 += static_cast<double>(got[2 * rows + k]) * got[2 * rows + k];
  EXPECT_NEAR(n2, 1.0, 1e-5);
  // A NaN in the first column: that column is left as it is (its norm is
  // NaN), and the NaN reaches every later column through its projection.
  A = gaussian(rows * 3, 10);
  A[5] = std::nanf("");
  upload(A, dA);
  low_rank_device::orthonormalize(dA.floats(), rows, 3, nullptr);
  device::synchronize();
  const std::vector<float> nan_got = dA.download_floats();
  EXPECT_TRUE(std::isnan(nan_got[5]));
  EXPECT_EQ(nan_got[0], A[0]);
  for (size_t k = rows; k < 3 * rows; ++k) ASSERT_TRUE(std::isnan(nan_got[k])) << k;
}

TEST(GpuPowerSgd, CublasProductsMatchTheHostBlas) {
  GW_SKIP_WITHOUT_GPU();
  if (!low_rank_device::available() || !low_rank::available())
    GTEST_SKIP() << "cuBLAS did not open or this build has no host BLAS";
  for (const Dims& d : kDims) {
    const std::vector<float> M = gaussian(d.rows * d.cols, 11), Q = gaussian(d.cols * d.r, 12),
                             P = gaussian(d.rows * d.r, 13);
    std::vector<float> P_host(d.rows * d.r), Q_host(d.cols * d.r);
    low_rank::mul_mq(M.data(), d.rows, d.cols, Q.data(), d.r, P_host.data());
    low_rank::mul_mtp(M.data(), d.rows, d.cols, P.data(), d.r, Q_host.data());
    DevBuf dM(4 * M.size()), dQ(4 * Q.size()), dP(4 * P.size()), dPo(4 * P.size()), dQo(4 * Q.size());
    upload(M, dM);
    upload(Q, dQ);
    upload(P, dP);
    low_rank_device::mul_mq(dM.floats(), d.rows, d.cols, dQ.floats(), d.r, dPo.floats(), nullptr);
    low_rank_device::mul_mtp(dM.floats(), d.rows, d.cols, dP.floats(), d.r, dQo.floats(), nullptr);
    device::synchronize();
    // Sums of `cols` (`rows`) products of N(0, 1) values: rounding of order
    // sqrt(length) ulps of the terms, far below 1e-5 of the largest entry.
    const std::vector<float> gp = dPo.download_floats(), gq = dQo.download_floats();
    const double tol_p = 1e-5 * max_abs(P_host) + 1e-6, tol_q = 1e-5 * max_abs(Q_host) + 1e-6;
    for (size_t k = 0; k < gp.size(); ++k) ASSERT_NEAR(gp[k], P_host[k], tol_p) << "M Q, " << d.rows << "x" << d.cols;
    for (size_t k = 0; k < gq.size(); ++k) ASSERT_NEAR(gq[k], Q_host[k], tol_q) << "M^T P, " << d.rows << "x" << d.cols;
    EXPECT_TRUE(dPo.guard_intact() && dQo.guard_intact());
  }
}

}  // namespace
}  // namespace gw
