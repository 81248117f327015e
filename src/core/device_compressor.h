// The device-codec interface: the CUDA twin of a CPU Compressor (core/compressor.h).
//
// A DeviceCompressor works on device buffers and produces payloads byte-identical
// to its CPU twin's for the same input and rng_key, and decodes to bit-identical
// floats (except NaN payload bits: GPU float arithmetic returns the canonical NaN
// where x86 propagates an operand's), so ranks may mix CPU and GPU paths and tests
// compare the two directly.
//
// Rules (ARCHITECTURE.md, "Rules that keep it fast"):
//   - every call is stream-ordered on the caller's stream (a cudaStream_t passed as
//     void*, nullptr = the legacy default stream); nothing synchronizes the device
//     or the stream, nothing allocates, nothing reads device memory on the host;
//   - payload sizes are known on the host: encoded_bytes(n) == the CPU twin's;
//   - non-finite inputs are reported through an optional device int the caller
//     owns (d_nonfinite): encode stores 1 there when some value is NaN or +-Inf and
//     never clears it (the caller zeroes it, e.g. once per step, and reads it when
//     it synchronizes anyway);
//   - a payload size that does not match n is GW_ERR_CORRUPT (thrown on the host,
//     before anything is launched); CUDA failures are GW_ERR_SYSTEM with the
//     CUDA error string.
// Header-only interface; it compiles without CUDA headers. make_device_compressor
// returns nullptr when the build has no CUDA or the codec has no GPU twin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "src/core/compressor.h"

namespace gw {

class DeviceCompressor {
 public:
  virtual ~DeviceCompressor() = default;

  // The CPU twin this codec mirrors (same spec, same wire bytes).
  virtual const Compressor& host() const = 0;
  size_t encoded_bytes(size_t n) const { return host().encoded_bytes(n); }

  // d_x[0..n) -> d_out[0..encoded_bytes(n)); element i uses rng stream (rng_key, i)
  // exactly as the CPU codec does. Returns encoded_bytes(n).
  virtual size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                        void* stream) const = 0;
  // d_in holds `bytes` payload bytes for n values (bytes checked on the host).
  virtual void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const = 0;
  // d_acc[i] += decoded value i (fused: one pass over the payload and d_acc).
  virtual void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const = 0;

  // decode (add false) or decode_add (add true) of a payload whose contents the
  // host cannot check (topk's counts and indices live in device memory): a
  // malformed payload writes nothing outside d_out[0..n) and stores 1 to
  // *d_corrupt (when non-null; never cleared here), which the caller reads when
  // it synchronizes anyway and reports as GW_ERR_CORRUPT. Codecs whose payloads
  // are fully checked on the host (the size) keep this default.
  virtual void decode_checked(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, bool add,
                              int* /*d_corrupt*/, void* stream) const {
    if (add) decode_add(d_in, bytes, n, d_out, stream);
    else decode(d_in, bytes, n, d_out, stream);
  }

  // Device scratch bytes that encode_feedback(n, mode) needs from its caller
  // (the generic path: x = g +- s and D(C(x)), 2n floats); 0 for fused twins
  // and for Feedback::kNone.
  virtual size_t feedback_scratch_bytes(size_t n, Feedback mode) const {
    return mode == Feedback::kNone ? 0 : 2 * n * sizeof(float);
  }
  // Compressor::encode_feedback on the device: d_state[0..n) is the layer's
  // feedback vector for d_g, updated as core/compressor.h says, with the same
  // bits as the CPU twin's encode_feedback; the payload as encode() of the
  // corrected x. d_scratch: feedback_scratch_bytes(n, mode) bytes (the caller
  // keeps it across calls, so nothing allocates on the hot path). The default
  // runs the generic path (device_feedback_generic); topk overrides it with a
  // fused one that never writes x.
  virtual size_t encode_feedback(const float* d_g, float* d_state, size_t n, Feedback mode, uint8_t* d_out,
                                 uint64_t rng_key, int* d_nonfinite, void* stream, void* d_scratch) const;
};

// The generic device error-feedback path: x = g +- s into scratch, encode(x),
// decode into scratch, then s = x - d (kResidual) or s += d (kEf21). Defined
// with the device DataOps (src/algo/device_ops.cu), CUDA builds only.
size_t device_feedback_generic(const DeviceCompressor& c, const float* d_g, float* d_state, size_t n,
                               Feedback mode, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite, void* stream,
                               void* d_scratch);

inline size_t DeviceCompressor::encode_feedback(const float* d_g, float* d_state, size_t n, Feedback mode,
                                                uint8_t* d_out, uint64_t rng_key, int* d_nonfinite, void* stream,
                                                void* d_scratch) const {
  return device_feedback_generic(*this, d_g, d_state, n, mode, d_out, rng_key, d_nonfinite, stream, d_scratch);
}

// The GPU twin of c, or nullptr (no CUDA in this build, or no twin for c's codec).
// The returned object keeps a reference to c: c must outlive it.
std::unique_ptr<DeviceCompressor> make_device_compressor(const Compressor& c);

// Small device helpers for tests and tools that must compile without CUDA headers.
// Without CUDA in the build, device_count() is 0 and the rest throw GW_ERR_UNSUPPORTED
// (tests check device_count() first and skip).
namespace device {
// Number of usable CUDA devices (0 without CUDA, without a driver, or without a GPU).
int device_count();
// "NVIDIA H100 80GB HBM3" etc. for device 0; "" when there is none.
const char* device_name();
void* alloc(size_t bytes);  // cudaMalloc; throws on failure
void release(void* p);      // cudaFree (nullptr ok)
void copy_to_device(void* d_dst, const void* h_src, size_t bytes);
void copy_to_host(void* h_dst, const void* d_src, size_t bytes);
void fill(void* d_dst, int byte, size_t bytes);  // cudaMemset
void synchronize();                              // cudaDeviceSynchronize + error check
}  // namespace device

}  // namespace gw
