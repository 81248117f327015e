// The dense linear algebra of low-rank compression, on host memory. The
// per-rank products (M Q, M^T P: each rank's own contribution to a sum) go
// through the system BLAS (Debian's libblas3 alternative: the reference
// implementation, or OpenBLAS once libopenblas0 is installed, chosen by
// update-alternatives without relinking). What every rank computes from the
// shared sums (orthonormalizing P, the result P Q^T) is plain code in a fixed
// order, so ranks get the same bits even when they link different BLAS builds
// or run on different CPUs.
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

// False in a build without BLAS (mul_mq and mul_mtp then throw GW_ERR_UNSUPPORTED).
bool available();

// P = M Q.
void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P);
// Q = M^T P.
void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q);
// out = P Q^T (row-major rows x cols), then, row by row while it is in cache,
// residual -= out (when residual is not null) and out *= scale.
void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out,
             float* residual = nullptr, float scale = 1.0f);

// Makes the r columns of A (rows x r, column-major, r <= rows) orthonormal,
// each spanning with the earlier ones what the same columns of A span (A = QR
// with R's diagonal >= 0, A <- Q). Gram-Schmidt as PyTorch's hook runs it for
// r <= 2; re-orthogonalized Gram-Schmidt above, where PyTorch calls
// Householder QR (the same columns up to sign, and P Q^T does not see signs).
// A column of zeros stays zeros (nothing to normalize, and no NaN).
void orthonormalize(float* A, size_t rows, size_t r);

// x[i] ~ N(0, 1) from the counter-based generator (src/common/rng.h): element
// i depends only on (key, i), so every rank given the same key fills the same values.
void fill_normal(float* x, size_t n, uint64_t key);

}  // namespace low_rank
}  // namespace gw
