// CUDA twin of randomk (randomk.h): payload byte-identical to the CPU codec's
// (u64 key, k values scaled by their stratum's length), decode bit-identical.
// One thread per stratum: its position comes from rng_u32 (common/rng.h, host
// and device) exactly as the CPU computes it, so no index travels and any key
// in a payload names in-range positions (a peer can spoil only its own values).
// Strata are disjoint, so decode_add needs no atomics.
#include <memory>

#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/randomk/randomk.h"

namespace gw {
namespace {

constexpr int kBlock = 256;

// Stratum j of k over n values: [n*j/k, n*(j+1)/k) (64-bit: n < 2^32, j < k <= n).
__device__ __forceinline__ void stratum(uint64_t n, uint64_t k, uint64_t j, uint64_t key, uint64_t* pos,
                                        uint64_t* len) {
  const uint64_t a = n * j / k;
  *len = n * (j + 1) / k - a;
  *pos = a + ((static_cast<uint64_t>(rng_u32(key, static_cast<uint32_t>(j))) * *len) >> 32);
}

__global__ void __launch_bounds__(kBlock)
    randomk_encode_kernel(const float* __restrict__ x, uint64_t n, uint64_t k, uint64_t key,
                          uint8_t* __restrict__ out, int* __restrict__ nonfinite) {
  const uint64_t first = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (first == 0) devutil::store_bytes(out, key, 8);
  int bad = 0;
  for (uint64_t j = first; j < k; j += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    uint64_t pos, len;
    stratum(n, k, j, key, &pos, &len);
    // CPU: x[pos] * static_cast<float>(len) (size_t -> float rounds to nearest).
    // x86 returns a NaN operand's own bits (quieted); the GPU would return its
    // canonical NaN, so NaN is passed through as the CPU does (same bytes).
    const float xv = x[pos];
    const uint32_t xb = __float_as_uint(xv);
    const float v = (xb & 0x7fffffffu) > 0x7f800000u ? __uint_as_float(xb | 0x00400000u)
                                                       : __fmul_rn(xv, __ull2float_rn(len));
    bad |= devutil::nonfinite_bits(v);
    devutil::store_bytes(out + 8 + 4 * j, __float_as_uint(v), 4);
  }
  if (bad && nonfinite) *nonfinite = 1;
}

__global__ void __launch_bounds__(kBlock)
    randomk_decode_kernel(const uint8_t* __restrict__ in, uint64_t n, uint64_t k, float* __restrict__ out,
                          int add) {
  const uint64_t key = devutil::load_bytes(in, 8);
  for (uint64_t j = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < k;
       j += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    uint64_t pos, len;
    stratum(n, k, j, key, &pos, &len);
    const float v = __uint_as_float(static_cast<uint32_t>(devutil::load_bytes(in + 8 + 4 * j, 4)));
    out[pos] = add ? __fadd_rn(out[pos], v) : v;
  }
}

class RandomkDevice final : public DeviceCompressor {
 public:
  explicit RandomkDevice(const RandomkCompressor& c) : c_(c) {}
  const Compressor& host() const override { return c_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                void* stream) const override {
    GW_REQUIRE(n < (uint64_t(1) << 32), GW_ERR_INVALID_ARGUMENT, c_.spec(), ": a layer of ", n,
               " values is too long");
    const size_t k = c_.k(n);
    cudaStream_t s = devutil::as_stream(stream);
    // n == 0 still writes the key (8 bytes), as the CPU does.
    randomk_encode_kernel<<<devutil::grid_for(k > 0 ? k : 1, kBlock), kBlock, 0, s>>>(d_x, n, k, rng_key, d_out,
                                                                                     d_nonfinite);
    devutil::check_launch("randomk encode");
    return c_.encoded_bytes(n);
  }
  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    run_decode(d_in, bytes, n, d_out, false, stream);
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    run_decode(d_in, bytes, n, d_acc, true, stream);
  }

 private:
  void run_decode(const uint8_t* in, size_t bytes, size_t n, float* out, bool add, void* stream) const {
    const size_t want = c_.encoded_bytes(n);
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, c_.spec(), " (GPU): payload of ", bytes, " bytes for ", n,
               " values (want ", want, ")");
    if (n == 0) return;
    cudaStream_t s = devutil::as_stream(stream);
    if (!add) devutil::check(cudaMemsetAsync(out, 0, n * sizeof(float), s), "randomk decode (zero)");
    const size_t k = c_.k(n);
    randomk_decode_kernel<<<devutil::grid_for(k, kBlock), kBlock, 0, s>>>(in, n, k, out, add ? 1 : 0);
    devutil::check_launch(add ? "randomk decode_add" : "randomk decode");
  }

  const RandomkCompressor& c_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_randomk(const Compressor& c) {
  const auto* r = dynamic_cast<const RandomkCompressor*>(&c);
  if (!r) return nullptr;
  return std::make_unique<RandomkDevice>(*r);
}

}  // namespace gw
