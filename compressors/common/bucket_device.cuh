// The DeviceCompressor of a bucket quantizer's CUDA twin (maxmin.cu, qsgd.cu):
// the host-side steps every call shares, written once (empty inputs, the payload
// size check before any launch, the device layout and its 16-byte access flag,
// the stream, the launch check). Host only: the kernels are bucket_kernels.cuh's.
//
// Launch (the codec's host side) supplies:
//   layout(n)                       the device layout for n values (vec unset)
//   total_bytes(n)                  the payload size
//   check_payload(bytes, n)         GW_ERR_CORRUPT unless bytes fits n
//   encode(x, out, L, key, nonfinite, stream), decode(in, out, L, add, stream)
//   encode_name(), decode_name(add) what check_launch reports
// Header-only (nvcc): compressors/*/*.cu globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "compressors/common/bucket_kernels.cuh"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"

namespace gw {
namespace bucketq {

template <class Launch>
class BucketDevice final : public DeviceCompressor {
 public:
  BucketDevice(const Compressor& host, const Launch& launch) : host_(host), launch_(launch) {}
  const Compressor& host() const override { return host_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                void* stream) const override {
    if (n == 0) return 0;
    auto L = launch_.layout(n);
    L.vec = vec_ok(L, d_x);
    launch_.encode(d_x, d_out, L, rng_key, d_nonfinite, devutil::as_stream(stream));
    devutil::check_launch(launch_.encode_name());
    return launch_.total_bytes(n);
  }

  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    run_decode(d_in, bytes, n, d_out, false, stream);
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    run_decode(d_in, bytes, n, d_acc, true, stream);
  }

 private:
  void run_decode(const uint8_t* in, size_t bytes, size_t n, float* out, bool add, void* stream) const {
    launch_.check_payload(bytes, n);
    if (n == 0) return;
    auto L = launch_.layout(n);
    L.vec = vec_ok(L, out);
    launch_.decode(in, out, L, add, devutil::as_stream(stream));
    devutil::check_launch(launch_.decode_name(add));
  }

  const Compressor& host_;
  Launch launch_;
};

}  // namespace bucketq
}  // namespace gw
