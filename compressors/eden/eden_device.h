// EDEN's fused device encode: the rotation and the levels codec in one kernel.
//
// eden::device_encode_rotated(d_x, n, bits, rotation_key, d_out, d_nonfinite,
// stream) writes to d_out exactly the bytes that the CPU round scheme sends
// for the padded, zero-filled vector d_x[0..n): EdenCompressor::produce rotates
// it with hadamard::rotate(x, n, rotation_key), then EdenLevels(bits)::encode
// writes the payload (EdenLevels::encoded_bytes(n) bytes, returned). Each
// bucket of 16 Ki values (one rotation block) is rotated in shared memory and
// encoded from there (compressors/eden/eden.cu), so d_x is read once and only
// the payload is written; d_x is left as it was.
//
// n must be a padded count (n == hadamard::padded_count(n): whole blocks of
// 16 Ki, then at most one power-of-two block), else GW_ERR_INVALID_ARGUMENT;
// bits 1..8. *d_nonfinite is set to 1 when some bucket holds NaN or +-Inf
// (left alone otherwise; may be null). Stream-ordered on the caller's stream (a
// cudaStream_t as void*, nullptr = the legacy default stream); nothing
// synchronizes or allocates. Any alignment of d_x and d_out works. The first
// call for a width builds its tables on the host.
//
// Not called by the engine yet: it stages a round scheme's device buffers to
// the host (src/comm/communicator_placement.cpp), where produce rotates. This
// is the piece a device-resident eden path will call. Compiles without CUDA
// headers; a build without CUDA throws GW_ERR_UNSUPPORTED
// (compressors/common/hadamard_device_stub.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gw {
namespace eden {

size_t device_encode_rotated(const float* d_x, size_t n, int bits, uint64_t rotation_key, uint8_t* d_out,
                             int* d_nonfinite, void* stream);

}  // namespace eden
}  // namespace gw
