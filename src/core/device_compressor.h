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

#include "core/compressor.h"

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
};

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
