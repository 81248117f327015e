// Internal to the CUDA codecs: grid-stride kernels for the element-wise 16-bit
// codecs (fp16, bf16). Conv supplies
//   static __device__ uint16_t enc(float);    // bit-identical to the CPU codec
//   static __device__ float dec(uint16_t);
// Values go in chunks of 4 (one 16-byte float access, one 8-byte payload access)
// when the floats are 16-byte and the payload 8-byte aligned; scalar code (byte
// access to the payload) otherwise.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include <string>

#include "src/common/error.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"

namespace gw {
namespace devutil {

constexpr int kEltBlock = 256;
constexpr int kEltChunksPerThread = 2;  // chunks of 4 values, kEltBlock apart
constexpr size_t kEltPerBlock = static_cast<size_t>(kEltBlock) * kEltChunksPerThread;

// Chunk c = values [4c, 4c + 4). Thread i of block b handles chunks
// b*kEltPerBlock + i + r*kEltBlock: each warp instruction covers consecutive
// 16-byte float pieces and 8-byte payload pieces, and both loads are in flight
// before either is used.
template <class Conv>
__global__ void __launch_bounds__(kEltBlock)
    half_encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, size_t n, int vec,
                       int* __restrict__ nonfinite) {
  const size_t c0 = static_cast<size_t>(blockIdx.x) * kEltPerBlock + threadIdx.x;
  int bad = 0;
  if (vec && (c0 + (kEltChunksPerThread - 1) * kEltBlock) * 4 + 4 <= n) {
    float4 a[kEltChunksPerThread];
#pragma unroll
    for (int r = 0; r < kEltChunksPerThread; ++r)
      a[r] = __ldcs(reinterpret_cast<const float4*>(x) + c0 + r * kEltBlock);
#pragma unroll
    for (int r = 0; r < kEltChunksPerThread; ++r) {
      bad |= nonfinite_bits(a[r].x) | nonfinite_bits(a[r].y) | nonfinite_bits(a[r].z) | nonfinite_bits(a[r].w);
      const uint2 w = make_uint2(static_cast<uint32_t>(Conv::enc(a[r].x)) | (static_cast<uint32_t>(Conv::enc(a[r].y)) << 16),
                                 static_cast<uint32_t>(Conv::enc(a[r].z)) | (static_cast<uint32_t>(Conv::enc(a[r].w)) << 16));
      __stcs(reinterpret_cast<uint2*>(out) + c0 + r * kEltBlock, w);
    }
  } else {
    for (int r = 0; r < kEltChunksPerThread; ++r) {
      const size_t e = (c0 + r * kEltBlock) * 4;
      const size_t end = e + 4 < n ? e + 4 : n;
      for (size_t i = e; i < end; ++i) {
        const float f = x[i];
        bad |= nonfinite_bits(f);
        const uint16_t h = Conv::enc(f);  // byte stores: the payload may be odd-aligned
        out[2 * i] = static_cast<uint8_t>(h);
        out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
      }
    }
  }
  if (bad && nonfinite) *nonfinite = 1;
}

template <class Conv, bool ADD>
__global__ void __launch_bounds__(kEltBlock)
    half_decode_kernel(const uint8_t* __restrict__ in, float* __restrict__ out, size_t n, int vec) {
  const size_t c0 = static_cast<size_t>(blockIdx.x) * kEltPerBlock + threadIdx.x;
  if (vec && (c0 + (kEltChunksPerThread - 1) * kEltBlock) * 4 + 4 <= n) {
    uint2 w[kEltChunksPerThread];
    float4 a0[kEltChunksPerThread];
#pragma unroll
    for (int r = 0; r < kEltChunksPerThread; ++r) {
      w[r] = __ldcs(reinterpret_cast<const uint2*>(in) + c0 + r * kEltBlock);
      if (ADD) a0[r] = reinterpret_cast<const float4*>(out)[c0 + r * kEltBlock];
    }
#pragma unroll
    for (int r = 0; r < kEltChunksPerThread; ++r) {
      float4 a = make_float4(Conv::dec(static_cast<uint16_t>(w[r].x & 0xffffu)),
                             Conv::dec(static_cast<uint16_t>(w[r].x >> 16)),
                             Conv::dec(static_cast<uint16_t>(w[r].y & 0xffffu)),
                             Conv::dec(static_cast<uint16_t>(w[r].y >> 16)));
      if (ADD) {
        a = make_float4(__fadd_rn(a0[r].x, a.x), __fadd_rn(a0[r].y, a.y), __fadd_rn(a0[r].z, a.z),
                        __fadd_rn(a0[r].w, a.w));
      }
      __stcs(reinterpret_cast<float4*>(out) + c0 + r * kEltBlock, a);
    }
  } else {
    for (int r = 0; r < kEltChunksPerThread; ++r) {
      const size_t e = (c0 + r * kEltBlock) * 4;
      const size_t end = e + 4 < n ? e + 4 : n;
      for (size_t i = e; i < end; ++i) {
        const uint8_t* b = in + 2 * i;  // may be odd-aligned
        const float v = Conv::dec(static_cast<uint16_t>(b[0] | (b[1] << 8)));
        out[i] = ADD ? __fadd_rn(out[i], v) : v;
      }
    }
  }
}

inline unsigned elt_grid(size_t n) {
  const size_t chunks = (n + 3) / 4;
  return static_cast<unsigned>((chunks + kEltPerBlock - 1) / kEltPerBlock);
}

template <class Conv>
void half_encode(const float* x, size_t n, uint8_t* out, int* nonfinite, cudaStream_t s, const char* what) {
  if (n == 0) return;
  const int vec = aligned(x, 16) && aligned(out, 8);
  half_encode_kernel<Conv><<<elt_grid(n), kEltBlock, 0, s>>>(x, out, n, vec, nonfinite);
  check_launch(what);
}

template <class Conv>
void half_decode(const uint8_t* in, size_t n, float* out, bool add, cudaStream_t s, const char* what) {
  if (n == 0) return;
  const int vec = aligned(in, 8) && aligned(out, 16);
  if (add) {
    half_decode_kernel<Conv, true><<<elt_grid(n), kEltBlock, 0, s>>>(in, out, n, vec);
  } else {
    half_decode_kernel<Conv, false><<<elt_grid(n), kEltBlock, 0, s>>>(in, out, n, vec);
  }
  check_launch(what);
}

}  // namespace devutil

// The GPU twin of a 16-bit cast codec (fp16, bf16): only the conversion differs.
template <class Conv>
class CastDevice final : public DeviceCompressor {
 public:
  CastDevice(const Compressor& c, const char* name) : c_(c), name_(name) {}
  const Compressor& host() const override { return c_; }
  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t, int* d_nonfinite,
                void* stream) const override {
    devutil::half_encode<Conv>(d_x, n, d_out, d_nonfinite, devutil::as_stream(stream), (name_ + " encode").c_str());
    return 2 * n;
  }
  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    check_size(bytes, n);
    devutil::half_decode<Conv>(d_in, n, d_out, false, devutil::as_stream(stream), (name_ + " decode").c_str());
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    check_size(bytes, n);
    devutil::half_decode<Conv>(d_in, n, d_acc, true, devutil::as_stream(stream), (name_ + " decode_add").c_str());
  }

 private:
  void check_size(size_t bytes, size_t n) const {
    GW_REQUIRE(bytes == 2 * n, GW_ERR_CORRUPT, name_, ": payload of ", bytes, " bytes for ", n, " values (want ",
               2 * n, ")");
  }
  const Compressor& c_;
  std::string name_;
};

}  // namespace gw
