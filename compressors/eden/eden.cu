// eden's device side: the CUDA twin of EdenLevels, the rotated-domain codec
// (eden.h), with payloads byte-identical to the CPU's and decodes
// bit-identical. The rotation has its own twin (compressors/common/
// hadamard_device.h, bit-identical to hadamard::rotate), so a rotate then this
// encode on the device gives the bytes the CPU round scheme sends. The round
// scheme (EdenCompressor) itself has no twin: the engine stages a round
// scheme's device buffers to the host (src/comm/communicator_placement.cpp),
// where produce/consume rotate; make_device_eden returns null for it.
//
// Encode: one CUDA block of 512 threads per bucket of 16 Ki rotated values,
// with the bucket quantizers' mechanics (common/bucket_kernels.cuh's loads,
// common/bitpack.cuh's code stores: 8 chunks of 4 values per thread, x read
// once into registers, chunk c = k * 512 + t). The
// two sums of the scale follow eden_sum.h's fixed order, which this thread
// layout was chosen for (thread t holds lanes 4t..4t+3); the nearest level is
// the CPU's binary search over the same float midpoints, in shared memory.
// Every float and double operation is an explicit round-to-nearest intrinsic
// and repeats the CPU's (eden.cpp) one for one.
// Decode: 256 threads per quarter bucket, the levels in shared memory, the
// codes and stores of common/bitpack.cuh.
#include <cmath>
#include <cstdint>
#include <memory>

#include "compressors/common/bitpack.cuh"
#include "compressors/common/bucket_device.cuh"
#include "compressors/common/bucket_kernels.cuh"
#include "compressors/eden/eden.h"
#include "compressors/eden/eden_sum.h"
#include "src/common/error.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"

namespace gw {
namespace {

constexpr int kTeam = 512;        // encode threads per bucket
constexpr int kEncodeChunks = 8;  // 4-value chunks per encode thread
static_assert(size_t(kTeam) * 4 == eden::kSumLanes, "thread t holds eden_sum.h's lanes 4t..4t+3");
static_assert(size_t(kTeam) * kEncodeChunks * 4 == eden::kBucket, "one bucket per block");
constexpr int kWarps = kTeam / 32;
constexpr int kMaxLevels = 256;  // 8 bits

constexpr int kDecodeThreads = 256;
constexpr int kDecodeChunks = 4;
constexpr uint32_t kDecodeParts = eden::kBucket / (4u * kDecodeThreads * kDecodeChunks);  // blocks per bucket

struct EdenLayout {
  int bits;
  uint32_t bucket;    // eden::kBucket
  uint32_t packed;    // code bytes of a whole bucket
  uint32_t last_len;  // values in the last bucket
  uint64_t nb;        // buckets
  int vec;            // 16-byte float access is possible
  bitpack::PackMul pm;
  float levels[kMaxLevels];      // 2^bits Lloyd-Max levels, ascending
  float thresholds[kMaxLevels];  // the 2^bits - 1 midpoints (EdenLevels::thresholds())
};

// eden_sum.h's tree of a bucket: s = this thread's lane sums (lanes 4t..4t+3);
// every thread of the block must call it, and every thread gets the sum.
// scratch: kWarps + 1 doubles of shared memory.
__device__ __forceinline__ double bucket_tree(const double (&s)[4], double* scratch) {
  double v = __dadd_rn(__dadd_rn(s[0], s[1]), __dadd_rn(s[2], s[3]));
#pragma unroll
  for (int o = 1; o < 32; o *= 2) v = __dadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));  // a + b == b + a
  const uint32_t lane = threadIdx.x & 31u;
  if (lane == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {  // the warps' tree, by the same shuffles over kWarps lanes
    double w = scratch[lane % kWarps];
#pragma unroll
    for (int o = 1; o < kWarps; o *= 2) w = __dadd_rn(w, __shfl_xor_sync(0xffffffffu, w, o));
    if (lane == 0) scratch[kWarps] = w;
  }
  __syncthreads();
  const double sum = scratch[kWarps];
  __syncthreads();  // scratch may be written again
  return sum;
}

struct NoStats {
  __device__ __forceinline__ void add(float) {}
};

// EdenLevels::encode for one bucket (shaped as a Quant of common/bucket_kernels.cuh).
struct EdenQuant {
  using Layout = EdenLayout;

  template <int W, int K, int BITS, bool FULL>
  static __device__ __forceinline__ void encode_bucket(const float* __restrict__ v, uint8_t* __restrict__ out,
                                                       const EdenLayout& L, uint64_t, int* __restrict__ nonfinite,
                                                       uint64_t j, uint32_t len, uint32_t t, bool) {
    static_assert(W == kTeam && K == kEncodeChunks, "eden_sum.h's lanes need this layout");
    __shared__ float thr[kMaxLevels], lev[kMaxLevels];
    __shared__ double warp_sums[kWarps + 1];
    const int bits = BITS ? BITS : L.bits;
    const uint32_t nlev = 1u << bits;
    for (uint32_t i = t; i < nlev; i += W) {  // read after bucket_tree's first barrier
      lev[i] = L.levels[i];
      thr[i] = L.thresholds[i];
    }

    float val[K][4];
    NoStats none;
    bucketq::load_bucket<W, K, FULL>(v, len, L, t, val, none);  // zeros past the end: add +0 below
    double s[4] = {0.0, 0.0, 0.0, 0.0};
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const double y = val[k][q];
        s[q] = __fma_rn(y, y, s[q]);
      }
    const double norm2 = bucket_tree(s, warp_sums);

    uint32_t acc[K];
#pragma unroll
    for (int k = 0; k < K; ++k) acc[k] = 0;
    const bool bad = !isfinite(norm2);
    float scale = 0.0f;
    if (bad) {
      scale = __uint_as_float(0x7fc00000u);  // NAN, as the CPU writes it; codes 0
    } else if (norm2 > 0.0) {  // the same on every thread: the branch is uniform
      const float inv_sigma = __double2float_rn(__dsqrt_rn(__ddiv_rn(static_cast<double>(len), norm2)));
      const uint32_t top = nlev >> 1;
      double d[4] = {0.0, 0.0, 0.0, 0.0};
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int cnt = FULL ? 4 : bitpack::chunk_count(k * W + t, len);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (FULL || q < cnt) {
            const float z = __fmul_rn(val[k][q], inv_sigma);
            uint32_t code = 0;  // how many midpoints lie at or below z: the CPU's search, step for step
#pragma unroll
            for (uint32_t step = top; step >= 1; step >>= 1) code += thr[code + step - 1] <= z ? step : 0u;
            d[q] = __fma_rn(static_cast<double>(val[k][q]), static_cast<double>(lev[code]), d[q]);
            acc[k] += code * L.pm.mul[q];
          }
        }
      }
      const double dot = bucket_tree(d, warp_sums);
      scale = dot > 0.0 ? __double2float_rn(__ddiv_rn(norm2, dot)) : 0.0f;
    }
    if (t == 0) {
      devutil::store_bytes(out + 4 * j, __float_as_uint(scale), 4);
      if (bad && nonfinite) *nonfinite = 1;
    }
    uint8_t* dst = out + 4 * L.nb + j * L.packed;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t c = k * W + t;
      bitpack::store_chunk_codes<FULL>(dst, acc[k], c, FULL ? 4 : bitpack::chunk_count(c, len), len, t, bits);
    }
  }
};

// One bucket per block. Its own kernel rather than bucket_kernels.cuh's
// encode_kernel (same shape) for the register cap: uncapped, the compiler
// takes 128 registers (one 512-thread block per SM); at 64, two blocks share
// an SM and one's loads overlap the other's search and sums. The code width
// stays a runtime value (BITS = 0): compiled in, the unrolled searches of 32
// values spill at 64 registers (ptxas: about 300 bytes).
__global__ void __launch_bounds__(kTeam, 2)
    encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, EdenLayout L, int* __restrict__ nonfinite) {
  const uint64_t j = blockIdx.x;
  const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
  const float* v = x + j * L.bucket;
  if (len == eden::kBucket)
    EdenQuant::encode_bucket<kTeam, kEncodeChunks, 0, true>(v, out, L, 0, nonfinite, j, len, threadIdx.x, true);
  else
    EdenQuant::encode_bucket<kTeam, kEncodeChunks, 0, false>(v, out, L, 0, nonfinite, j, len, threadIdx.x, true);
}

// EdenLevels::decode / decode_add: CUDA block b decodes quarter b % 4 of bucket b / 4.
template <bool ADD>
__global__ void __launch_bounds__(kDecodeThreads)
    decode_kernel(const uint8_t* __restrict__ in, float* __restrict__ out, EdenLayout L) {
  __shared__ float lev[kMaxLevels];
  const int bits = L.bits;
  for (uint32_t i = threadIdx.x; i < (1u << bits); i += kDecodeThreads) lev[i] = L.levels[i];
  __syncthreads();
  const uint64_t j = blockIdx.x / kDecodeParts;
  const uint32_t part = blockIdx.x % kDecodeParts;
  const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
  const float scale = __uint_as_float(static_cast<uint32_t>(devutil::load_bytes(in + 4 * j, 4)));
  const uint8_t* src = in + 4 * L.nb + j * L.packed;
  float* o = out + j * L.bucket;
  const uint32_t mask = (1u << bits) - 1u;
#pragma unroll
  for (int k = 0; k < kDecodeChunks; ++k) {
    const uint32_t c = (part * kDecodeChunks + k) * kDecodeThreads + threadIdx.x;
    const int cnt = bitpack::chunk_count(c, len);
    if (cnt == 0) break;
    const uint32_t codes = bitpack::load_chunk_codes(src, c, cnt, bits);
    float r[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) r[q] = __fmul_rn(scale, lev[(codes >> (q * bits)) & mask]);  // scale * level
    bitpack::store_chunk<ADD>(o, c, r, cnt, L);
  }
}

// The host side of common/bucket_device.cuh.
class EdenLaunch {
 public:
  explicit EdenLaunch(const EdenLevels& c) : c_(c) {
    base_ = EdenLayout{};
    base_.bits = c.bits();
    for (size_t i = 0; i < c.levels().size(); ++i) base_.levels[i] = c.levels()[i];
    for (size_t i = 0; i < c.thresholds().size(); ++i) base_.thresholds[i] = c.thresholds()[i];
  }

  EdenLayout layout(size_t n) const {
    EdenLayout L = base_;
    bucketq::set_geometry(L, base_.bits, eden::kBucket, (eden::kBucket * base_.bits + 7) / 8, n);
    return L;
  }
  size_t total_bytes(size_t n) const { return c_.encoded_bytes(n); }
  void check_payload(size_t bytes, size_t n) const {
    const size_t want = c_.encoded_bytes(n);
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, c_.spec(), ": payload of ", bytes, " bytes for ", n,
               " values (expected ", want, ")");
  }
  void encode(const float* x, uint8_t* out, const EdenLayout& L, uint64_t, int* nf, cudaStream_t s) const {
    encode_kernel<<<static_cast<unsigned>(L.nb), kTeam, 0, s>>>(x, out, L, nf);
  }
  void decode(const uint8_t* in, float* out, const EdenLayout& L, bool add, cudaStream_t s) const {
    const unsigned grid = static_cast<unsigned>(L.nb * kDecodeParts);
    if (add)
      decode_kernel<true><<<grid, kDecodeThreads, 0, s>>>(in, out, L);
    else
      decode_kernel<false><<<grid, kDecodeThreads, 0, s>>>(in, out, L);
  }
  const char* encode_name() const { return "eden-levels encode"; }
  const char* decode_name(bool add) const { return add ? "eden-levels decode_add" : "eden-levels decode"; }

 private:
  const EdenLevels& c_;
  EdenLayout base_;
};

}  // namespace

// The twin of the levels codec only; the round scheme has none (see the top).
std::unique_ptr<DeviceCompressor> make_device_eden(const Compressor& c) {
  const auto* e = dynamic_cast<const EdenLevels*>(&c);
  if (!e) return nullptr;
  return std::make_unique<bucketq::BucketDevice<EdenLaunch>>(*e, EdenLaunch(*e));
}

}  // namespace gw
