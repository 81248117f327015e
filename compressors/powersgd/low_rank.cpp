#include "compressors/powersgd/low_rank.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "src/common/error.h"
#include "src/common/rng.h"

#if GW_HAVE_BLAS
#include <cblas.h>

extern "C" {
// LAPACK's Fortran entry points (liblapack3 ships no C header of its own).
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work, const int* lwork,
             int* info);
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* work,
             const int* lwork, int* info);
}
#endif

namespace gw {
namespace low_rank {

#if GW_HAVE_BLAS
namespace {
int as_int(size_t v) {
  GW_REQUIRE(v <= static_cast<size_t>(INT_MAX), GW_ERR_INVALID_ARGUMENT, "a matrix side of ", v,
             " is more than BLAS takes (", INT_MAX, ")");
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

// out (row-major rows x cols) is column-major cols x rows: out^T = Q P^T.
void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float alpha, float* out) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, as_int(cols), as_int(rows), as_int(r), alpha, Q,
              as_int(cols), P, as_int(rows), 0.0f, out, as_int(cols));
}

void orthonormalize(float* A, size_t rows, size_t r, std::vector<float>* work) {
  GW_REQUIRE(r <= rows, GW_ERR_INTERNAL, "orthonormalize: ", r, " columns of length ", rows);
  if (r == 0) return;
  if (r <= 2) {
    for (size_t i = 0; i < r; ++i) {
      float* col = A + i * rows;
      const float norm = cblas_snrm2(as_int(rows), col, 1);
      if (norm > 0.0f) cblas_sscal(as_int(rows), 1.0f / norm, col, 1);  // NaN stays NaN: the nonfinite policy sees it
      for (size_t j = i + 1; j < r; ++j) {
        float* rest = A + j * rows;
        cblas_saxpy(as_int(rows), -cblas_sdot(as_int(rows), col, 1, rest, 1), col, 1, rest, 1);
      }
    }
    return;
  }
  const int m = as_int(rows), n = as_int(r), lda = m;
  int info = 0, lwork = -1;
  float query = 0;
  std::vector<float>& w = *work;
  if (w.size() < r) w.resize(r);
  sgeqrf_(&m, &n, A, &lda, w.data(), &query, &lwork, &info);  // workspace query
  int need = std::max(static_cast<int>(query), n);
  sorgqr_(&m, &n, &n, A, &lda, w.data(), &query, &lwork, &info);
  need = std::max(need, static_cast<int>(query));
  if (w.size() < r + static_cast<size_t>(need)) w.resize(r + static_cast<size_t>(need));
  lwork = need;
  sgeqrf_(&m, &n, A, &lda, w.data(), w.data() + r, &lwork, &info);
  GW_REQUIRE(info == 0, GW_ERR_INTERNAL, "LAPACK sgeqrf failed (info ", info, ")");
  sorgqr_(&m, &n, &n, A, &lda, w.data(), w.data() + r, &lwork, &info);
  GW_REQUIRE(info == 0, GW_ERR_INTERNAL, "LAPACK sorgqr failed (info ", info, ")");
}
#else
bool available() { return false; }
namespace {
[[noreturn]] void no_blas() {
  fail(GW_ERR_UNSUPPORTED, "this build of gradwire has no BLAS/LAPACK (install libblas-dev and liblapack-dev, "
                           "then configure again)");
}
}  // namespace
void mul_mq(const float*, size_t, size_t, const float*, size_t, float*) { no_blas(); }
void mul_mtp(const float*, size_t, size_t, const float*, size_t, float*) { no_blas(); }
void mul_pqt(const float*, const float*, size_t, size_t, size_t, float, float*) { no_blas(); }
void orthonormalize(float*, size_t, size_t, std::vector<float>*) { no_blas(); }
#endif

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
