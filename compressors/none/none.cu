// CUDA twin of the identity codec (none.h): the payload is the float32 bytes.
// encode / decode are cudaMemcpyAsync, except that an encode asked to report
// non-finite values runs a copy kernel that checks as it copies (one pass).
#include <memory>

#include "src/common/error.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/none/none.h"

namespace gw {
namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ float load_f32_bytes(const uint8_t* p) {
  return __uint_as_float(static_cast<uint32_t>(devutil::load_bytes(p, 4)));
}

// out = x (bytes), *nonfinite = 1 if some x is NaN/Inf. 4 values per thread step.
__global__ void __launch_bounds__(kBlock)
    none_copy_check_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, size_t n, int vec,
                           int* __restrict__ nonfinite) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  int bad = 0;
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const size_t e = g * 4;
    if (vec && e + 4 <= n) {
      const float4 a = __ldcs(reinterpret_cast<const float4*>(x + e));
      bad |= devutil::nonfinite_bits(a.x) | devutil::nonfinite_bits(a.y) | devutil::nonfinite_bits(a.z) |
             devutil::nonfinite_bits(a.w);
      __stcs(reinterpret_cast<float4*>(out + 4 * e), a);
    } else {
      const size_t end = e + 4 < n ? e + 4 : n;
      for (size_t i = e; i < end; ++i) {
        const float f = x[i];
        bad |= devutil::nonfinite_bits(f);
        devutil::store_bytes(out + 4 * i, __float_as_uint(f), 4);
      }
    }
  }
  if (bad && nonfinite) *nonfinite = 1;
}

__global__ void __launch_bounds__(kBlock)
    none_add_kernel(const uint8_t* __restrict__ in, float* __restrict__ acc, size_t n, int vec) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const size_t e = g * 4;
    if (vec && e + 4 <= n) {
      const float4 v = __ldcs(reinterpret_cast<const float4*>(in + 4 * e));
      float4* p = reinterpret_cast<float4*>(acc + e);
      const float4 a = *p;
      __stcs(p, make_float4(__fadd_rn(a.x, v.x), __fadd_rn(a.y, v.y), __fadd_rn(a.z, v.z), __fadd_rn(a.w, v.w)));
    } else {
      const size_t end = e + 4 < n ? e + 4 : n;
      for (size_t i = e; i < end; ++i) acc[i] = __fadd_rn(acc[i], load_f32_bytes(in + 4 * i));
    }
  }
}

class NoneDevice final : public DeviceCompressor {
 public:
  explicit NoneDevice(const Compressor& c) : c_(c) {}
  const Compressor& host() const override { return c_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t, int* d_nonfinite,
                void* stream) const override {
    if (n == 0) return 0;
    cudaStream_t s = devutil::as_stream(stream);
    if (d_nonfinite) {
      const int vec = devutil::aligned(d_x, 16) && devutil::aligned(d_out, 16);
      none_copy_check_kernel<<<devutil::grid_for((n + 3) / 4, kBlock), kBlock, 0, s>>>(d_x, d_out, n, vec,
                                                                                      d_nonfinite);
      devutil::check_launch("none encode");
    } else {
      devutil::check(cudaMemcpyAsync(d_out, d_x, 4 * n, cudaMemcpyDeviceToDevice, s), "none encode");
    }
    return 4 * n;
  }
  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    check_size(bytes, n);
    if (n == 0) return;
    devutil::check(cudaMemcpyAsync(d_out, d_in, 4 * n, cudaMemcpyDeviceToDevice, devutil::as_stream(stream)),
                   "none decode");
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    check_size(bytes, n);
    if (n == 0) return;
    const int vec = devutil::aligned(d_in, 16) && devutil::aligned(d_acc, 16);
    none_add_kernel<<<devutil::grid_for((n + 3) / 4, kBlock), kBlock, 0, devutil::as_stream(stream)>>>(
        d_in, d_acc, n, vec);
    devutil::check_launch("none decode_add");
  }

 private:
  void check_size(size_t bytes, size_t n) const {
    GW_REQUIRE(bytes == 4 * n, GW_ERR_CORRUPT, "none: payload of ", bytes, " bytes for ", n, " values (want ",
               4 * n, ")");
  }
  const Compressor& c_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_none(const Compressor& c) {
  if (c.id() != kNoneCompressorId) return nullptr;
  return std::make_unique<NoneDevice>(c);
}

}  // namespace gw
