// The device twin of low_rank.h: the same products and steps on GPU memory,
// enqueued on the caller's stream, never waiting for it (PyTorch's hook calls
// torch.cuda.synchronize in its decompress step; nothing here does).
//
// The per-rank products (M Q, M^T P) go through cuBLAS with the host BLAS
// calls' arguments and cuBLAS's default math (fp32 throughout: no TF32). The
// shared side (orthonormalizing the summed P, the mean Q, the result P Q^T)
// runs in our own kernels in a fixed order that no launch size changes, so
// every rank computes the same bits from the same sums. P Q^T rounds exactly
// as the host's loop does (the same products, added in the same order, no
// fused multiply-add), so host and device results differ only by what their
// products and orthonormalizations round differently: the tests bound it.
//
// Layouts as in low_rank.h: M row-major rows x cols, P and Q column-major.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gw {
namespace low_rank_device {

// True in a build with CUDA where cuBLAS opens (dlopen, on the first ask);
// the products below throw GW_ERR_UNSUPPORTED otherwise.
bool available();

void add_into(float* x, const float* y, size_t n, void* stream);                // x += y
void scaled_copy(float* dst, const float* src, size_t n, float factor, void* stream);  // dst = src * factor
void fill_normal(float* x, size_t n, uint64_t key, void* stream);               // low_rank::fill_normal's values
void mul_mq(const float* M, size_t rows, size_t cols, const float* Q, size_t r, float* P, void* stream);
void mul_mtp(const float* M, size_t rows, size_t cols, const float* P, size_t r, float* Q, void* stream);
void mul_pqt(const float* P, const float* Q, size_t rows, size_t cols, size_t r, float* out, float* residual,
             float scale, void* stream);
// Classical Gram-Schmidt, each projection run twice above rank 2 (CGS2): the
// columns the host's modified Gram-Schmidt gives, to working precision, in
// one block's fixed reduction order. A zero column stays zero; NaN stays NaN.
void orthonormalize(float* A, size_t rows, size_t r, void* stream);

}  // namespace low_rank_device
}  // namespace gw
