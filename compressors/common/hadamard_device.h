// The randomized Hadamard transform of hadamard.h on device memory: the same
// blocks, signs, butterflies and scaling point, so the same bits as
// hadamard::rotate / unrotate on the CPU (NaN payloads aside: GPU arithmetic
// returns the canonical NaN).
//
// Stream-ordered on the caller's stream (a cudaStream_t as void*, nullptr = the
// legacy default stream): nothing synchronizes, nothing allocates. d_in ==
// d_out rotates in place; otherwise the two must not overlap. Any alignment
// works (16-byte aligned buffers take the vector loads). Compiles without CUDA
// headers; a build without CUDA throws GW_ERR_UNSUPPORTED
// (hadamard_device_stub.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gw {
namespace hadamard {

// d_out[0..n) <- H D d_in[0..n)   (hadamard::rotate)
void device_rotate(const float* d_in, float* d_out, size_t n, uint64_t key, void* stream);
// d_out[0..n) <- D H d_in[0..n)   (hadamard::unrotate)
void device_unrotate(const float* d_in, float* d_out, size_t n, uint64_t key, void* stream);

}  // namespace hadamard
}  // namespace gw
