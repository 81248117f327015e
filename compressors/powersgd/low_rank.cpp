#include "compressors/powersgd/low_rank.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "compressors/common/dot.h"
#include "src/common/error.h"
#include "src/common/rng.h"

#if GW_HAVE_BLAS
#include <cblas.h>
#endif

namespace gw {
namespace low_rank {

#if GW_HAVE_BLAS
namespace {
int as_int(size_t v) {
  GW_REQUIRE(v <= static_cast<size_t>(INT_MAX), GW_ERR_INTERNAL, "a matrix side of ", v,
             " is more than BLAS takes (the layout keeps such layers exact)");
  return static_cast<int>(v);
}
}  // namespace

bool available() { return true; }

// M row-major rows x cols is, to column-major BLAS, the cols x rows matrix A = M^T (lda = cols).
void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P) {
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, as_int(rows), as_int(r), as_int(cols), 1.0f, M, as_int(cols),
              Q, as_int(cols), 0.0f, P, as_int(rows));
}

void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, as_int(cols), as_int(r), as_int(rows), 1.0f, M,
              as_int(cols), P, as_int(rows), 0.0f, Q, as_int(cols));
}

#else
bool available() { return false; }
namespace {
[[noreturn]] void no_blas() {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no BLAS (install libblas-dev, then configure again)");
}
}  // namespace
void mul_mq(const float*, size_t, size_t, const float*, size_t, float*) { no_blas(); }
void mul_mtp(const float*, size_t, size_t, const float*, size_t, float*) { no_blas(); }
#endif

// The shared side: plain loops in a fixed order, so every rank computes the
// same bits from the same sums whatever BLAS it links.
void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out, float* residual,
             float scale) {
  for (size_t i = 0; i < rows; ++i) {
    float* row = out + i * cols;
    const float p0 = P[i];
    for (size_t j = 0; j < cols; ++j) row[j] = p0 * Q[j];
    for (size_t k = 1; k < r; ++k) {
      const float pk = P[k * rows + i];
      const float* qk = Q + k * cols;
      for (size_t j = 0; j < cols; ++j) row[j] += pk * qk[j];
    }
    // While the row is in cache: one pass over memory instead of three.
    if (residual) {
      float* e = residual + i * cols;
      for (size_t j = 0; j < cols; ++j) e[j] -= row[j];
    }
    if (scale != 1.0f)
      for (size_t j = 0; j < cols; ++j) row[j] *= scale;
  }
}


void orthonormalize(float* A, size_t rows, size_t r) {
  GW_REQUIRE(r <= rows, GW_ERR_INTERNAL, "orthonormalize: ", r, " columns of length ", rows);
  // Modified Gram-Schmidt; above rank 2 each projection runs twice ("twice is
  // enough", Giraud et al. 2005), which keeps the columns orthonormal to
  // working precision, as Householder QR does.
  const int passes = r <= 2 ? 1 : 2;
  for (size_t i = 0; i < r; ++i) {
    float* col = A + i * rows;
    for (int pass = 0; pass < passes; ++pass)
      for (size_t j = 0; j < i; ++j) {
        const float* prev = A + j * rows;
        const float c = static_cast<float>(dot4(prev, col, rows));
        for (size_t k = 0; k < rows; ++k) col[k] -= c * prev[k];
      }
    const double norm = std::sqrt(dot4(col, col, rows));
    if (norm > 0) {  // a zero column stays zero (no 0/0); NaN stays NaN for the nonfinite policy
      const float inv = static_cast<float>(1.0 / norm);
      for (size_t k = 0; k < rows; ++k) col[k] *= inv;
    }
  }
}

void fill_normal(float* x, size_t n, uint64_t key) {
  // Box-Muller on two 24-bit uniforms per pair (u1 in (0, 1], so log is finite).
  const float two_pi = 6.283185307179586f;
  for (size_t i = 0; i < n; i += 2) {
    const uint32_t c = static_cast<uint32_t>(i);
    const float u1 = 1.0f - rng_uniform(key, c);
    const float u2 = rng_uniform(key, c + 1);
    const float rad = std::sqrt(-2.0f * std::log(u1));
    x[i] = rad * std::cos(two_pi * u2);
    if (i + 1 < n) x[i + 1] = rad * std::sin(two_pi * u2);
  }
}

}  // namespace low_rank
}  // namespace gw
