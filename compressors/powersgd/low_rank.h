// The dense linear algebra of low-rank compression, on host memory, through
// the system BLAS and LAPACK (Debian's libblas3 / liblapack3 alternatives:
// the reference implementation, or OpenBLAS when libopenblas0 is installed,
// chosen by update-alternatives without relinking).
//
// Layouts: M is the layer's data, row-major rows x cols (PyTorch's
// tensor.view(shape[0], -1)); the factors P (rows x r) and Q (cols x r) are
// column-major, so each of the r columns is contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gw {
namespace low_rank {

// False in a build without BLAS/LAPACK (every function below then throws GW_ERR_UNSUPPORTED).
bool available();

// P = M Q.
void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P);
// Q = M^T P.
void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q);
// out = alpha P Q^T (row-major rows x cols).
void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float alpha, float* out);

// Makes the r columns of A (rows x r, column-major, r <= rows) orthonormal,
// spanning what the first ones span (A = QR, A <- Q). Gram-Schmidt for r <= 2
// (a column of zeros stays zeros: nothing to normalize, and no NaN), Householder
// QR (LAPACK sgeqrf + sorgqr) above, as PyTorch's PowerSGD hook does.
// `work` is grow-only scratch.
void orthonormalize(float* A, size_t rows, size_t r, std::vector<float>* work);

// x[i] ~ N(0, 1) from the counter-based generator (src/common/rng.h): element
// i depends only on (key, i), so every rank given the same key fills the same values.
void fill_normal(float* x, size_t n, uint64_t key);

}  // namespace low_rank
}  // namespace gw
