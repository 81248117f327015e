// CUDA twin of the qsgd and nuq codecs (qsgd.h, nuq/nuq.h): payloads
// byte-identical to the CPU kernels for the same key, decodes bit-identical.
//
// Mapping (as maxmin.cu): one "team" of W threads per bucket, W a power of two
// with 4*W chunks of 4 values >= the bucket (W = 4 for bucket 64, 32 for 512, 512
// for 8192). Teams of up to a warp share 256-thread blocks; larger teams are one
// block. Each thread holds 4 chunks (16 values) in registers, so x is read once:
// team max|v| / non-finite reduction, then (l2 norm) the team sum of the integer
// squares (uint64, exact: any order gives qsgd_kernels.h's sum), then quantize and
// write whole bytes (odd bit widths: two neighbouring chunks, written by the even
// thread); no two threads write the same byte. Decode: one coalesced 16-byte store
// per chunk. The per-element float math is qsgd_kernels.h's, written with explicit
// round-to-nearest intrinsics (no contraction, no fast-math); the bucket math
// (norm, scale, 1/scale) is the shared GW_HOST_DEVICE code itself.
#include <cfloat>
#include <cstdint>
#include <memory>

#include "common/error.h"
#include "common/rng.h"
#include "core/device_compressor.h"
#include "core/device_util.cuh"
#include "qsgd/qsgd.h"
#include "qsgd/qsgd_kernels.h"

namespace gw {
namespace qsgd {
namespace {

constexpr int kChunksPerThread = 4;   // chunks of 4 consecutive values each thread holds
constexpr int kSmallTeamBlock = 256;  // block size when teams are at most a warp

struct DevLayout {
  int bits;
  uint32_t bucket;    // S
  uint32_t packed;    // P = ceil(S * bits / 8)
  uint32_t last_len;  // values in the last bucket
  uint32_t s;         // levels
  uint64_t nb;        // buckets
  float sf;           // float(s)
  float c_lo;         // 2^(s-1) (nuq)
  int vec;            // 16-byte float access is possible (S % 4 == 0, buffer aligned)
};

template <int W>
__host__ __device__ constexpr int block_threads() {
  return W <= 32 ? kSmallTeamBlock : W;
}

// Team-wide max and "any non-finite". Every thread of the block must call it.
template <int W>
__device__ __forceinline__ void team_max_or(float& mx, int& bad) {
  constexpr int WW = W < 32 ? W : 32;
#pragma unroll
  for (int o = WW / 2; o > 0; o >>= 1) {
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    bad |= __shfl_xor_sync(0xffffffffu, bad, o);
  }
  if constexpr (W > 32) {
    constexpr int NW = W / 32;
    __shared__ float s_mx[NW];
    __shared__ int s_bad[NW];
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) {
      s_mx[warp] = mx;
      s_bad[warp] = bad;
    }
    __syncthreads();
    mx = s_mx[0];
    bad = s_bad[0];
#pragma unroll
    for (int w = 1; w < NW; ++w) {
      mx = fmaxf(mx, s_mx[w]);
      bad |= s_bad[w];
    }
  }
}

// Team-wide uint64 sum (exact, wrapping). Every thread of the block must call it.
template <int W>
__device__ __forceinline__ void team_sum(unsigned long long& v) {
  constexpr int WW = W < 32 ? W : 32;
#pragma unroll
  for (int o = WW / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (W > 32) {
    constexpr int NW = W / 32;
    __shared__ unsigned long long s_sum[NW];
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) s_sum[warp] = v;
    __syncthreads();
    v = s_sum[0];
#pragma unroll
    for (int w = 1; w < NW; ++w) v += s_sum[w];
  }
}

// Values in chunk c (4 values from 4c) of a bucket of len values.
__device__ __forceinline__ int chunk_count(uint32_t c, uint32_t len) {
  const uint32_t e = c * 4u;
  return e < len ? static_cast<int>(min(4u, len - e)) : 0;
}

// quantize_one() of qsgd_kernels.h.
template <int KIND>
__device__ __forceinline__ uint32_t quantize_dev(float x, float inv, const DevLayout& L, uint64_t key, uint32_t i) {
  const uint32_t xb = __float_as_uint(x);
  const float ax = __uint_as_float(xb & 0x7fffffffu);
  const uint32_t u24 = rng_u32(key, i) >> 8;
  uint32_t l;
  if (KIND == NUQ) {
    float y = __fmul_rn(ax, inv);
    y = y < 1.0f ? y : 1.0f;
    const uint32_t yb = __float_as_uint(y);
    const int32_t k = static_cast<int32_t>(yb >> 23) - 127 + static_cast<int32_t>(L.s);
    if (k >= 1) {
      l = static_cast<uint32_t>(k) + (u24 < ((yb & 0x7fffffu) << 1) ? 1u : 0u);
    } else {
      const float u = __fmul_rn(__uint2float_rn(u24), kRngUnit);
      l = u < __fmul_rn(y, L.c_lo) ? 1u : 0u;
    }
  } else {
    const float u = __fmul_rn(__uint2float_rn(u24), kRngUnit);
    float t = __fmaf_rn(ax, inv, u);
    t = t < L.sf ? t : L.sf;
    l = __float2uint_rz(t);
  }
  return l | (l ? (xb >> 31) << (L.bits - 1) : 0u);
}

// Chunk c = k*W + t of the team's bucket is thread t's k-th chunk: every load and
// store instruction of a warp covers consecutive 16-byte pieces. A chunk's 4 codes
// are 4*bits bits at bit 4*bits*c of the bucket's code bytes: whole bytes for even
// bits; for odd bits two neighbouring chunks (threads t, t+1) make whole bytes,
// and the even thread writes them.
template <int W, int KIND, bool FULL>
__device__ __forceinline__ void encode_bucket(const float* __restrict__ v, uint8_t* __restrict__ out,
                                              const DevLayout& L, uint64_t key, int* __restrict__ nonfinite,
                                              uint64_t j, uint32_t len, uint32_t t, bool valid) {
  constexpr int K = kChunksPerThread;
  float val[K][4];
  float amax = 0.0f, nf = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const uint32_t e = (k * W + t) * 4u;
    const int c = FULL ? 4 : chunk_count(k * W + t, len);
    if (c == 4 && L.vec) {
      const float4 a = __ldcs(reinterpret_cast<const float4*>(v + e));
      val[k][0] = a.x, val[k][1] = a.y, val[k][2] = a.z, val[k][3] = a.w;
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) val[k][q] = q < c ? v[e + q] : 0.0f;
    }
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (FULL || q < c) {
        amax = fmaxf(amax, fabsf(val[k][q]));
        nf = __fmaf_rn(val[k][q], 0.0f, nf);  // NaN once some value is NaN or +-Inf
      }
    }
  }
  int bad = (__float_as_uint(nf) & 0x7fffffffu) != 0u;  // finite values leave +-0
  team_max_or<W>(amax, bad);
  // Teams past the end (len 0) write nothing but stay for the shuffles.

  float raw = amax;
  if (KIND != QSGD_MAX) {
    const int e = amax_exponent(amax);
    const double P = sumsq_factor(e);
    unsigned long long sum = 0;
    if (!bad) {
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const int c = FULL ? 4 : chunk_count(k * W + t, len);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (FULL || q < c) {
            const double d = static_cast<double>(val[k][q]);
            const double r = __fma_rn(d, __dmul_rn(d, P), 0x1p52);
            sum += static_cast<unsigned long long>(__double_as_longlong(r)) - kMagicBits;
          }
        }
      }
    }
    team_sum<W>(sum);
    if (!bad) raw = l2_from_sum(sum, e);
  }
  const BucketParams p = bucket_params(static_cast<Kind>(KIND), raw, bad != 0, L.s);
  if (valid && t == 0) {
    devutil::store_bytes(out + 4 * j, __float_as_uint(p.scale), 4);
    if (bad && nonfinite) *nonfinite = 1;
  }

  const int bits = L.bits;
  uint8_t* dst = out + 4 * L.nb + j * L.packed;
  const uint32_t i0 = static_cast<uint32_t>(j * L.bucket);  // element index mod 2^32
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const uint32_t c = k * W + t;
    const int cnt = FULL ? 4 : chunk_count(c, len);
    uint32_t acc = 0;
    if (!bad) {
      const uint32_t base = i0 + c * 4u;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (FULL || q < cnt) acc |= quantize_dev<KIND>(val[k][q], p.inv, L, key, base + q) << (q * bits);
      }
    }
    if (!(bits & 1)) {
      if (FULL || cnt > 0)
        devutil::store_bytes(dst + c * static_cast<uint32_t>(bits / 2), acc, FULL ? bits / 2 : (cnt * bits + 7) / 8);
    } else {
      const uint32_t next = __shfl_down_sync(0xffffffffu, acc, 1);  // chunk c + 1 (thread t + 1)
      if ((t & 1) == 0 && (FULL || cnt > 0)) {
        const int total = FULL ? 8 : cnt + chunk_count(c + 1, len);
        const uint64_t pair = static_cast<uint64_t>(acc) | (static_cast<uint64_t>(next) << (4 * bits));
        devutil::store_bytes(dst + (c / 2) * static_cast<uint32_t>(bits), pair, (total * bits + 7) / 8);
      }
    }
  }
}

template <int W, int KIND>
__global__ void __launch_bounds__(block_threads<W>())
    qsgd_encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, DevLayout L, uint64_t key,
                       int* __restrict__ nonfinite) {
  constexpr int TPB = block_threads<W>();
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  const bool valid = j < L.nb;
  const uint32_t len = !valid ? 0u : (j + 1 == L.nb ? L.last_len : L.bucket);
  // Full: every chunk of every thread holds 4 values (uniform across the warp
  // except where a warp holds the last bucket: then the general path, always correct).
  const bool full = __all_sync(0xffffffffu, len == 4u * kChunksPerThread * W);
  if (full) {
    encode_bucket<W, KIND, true>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  } else {
    encode_bucket<W, KIND, false>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  }
}

template <int W, int KIND, bool ADD>
__global__ void __launch_bounds__(block_threads<W>())
    qsgd_decode_kernel(const uint8_t* __restrict__ in, float* __restrict__ out, DevLayout L) {
  constexpr int K = kChunksPerThread;
  constexpr int TPB = block_threads<W>();
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  if (j >= L.nb) return;
  const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
  const BucketParams p = decode_params(__uint_as_float(static_cast<uint32_t>(devutil::load_bytes(in + 4 * j, 4))),
                                       L.s);
  const uint8_t* src = in + 4 * L.nb + j * L.packed;
  float* o = out + j * L.bucket;
  const int bits = L.bits;
  const uint32_t mask = (1u << bits) - 1u;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const uint32_t c = k * W + t;
    const int cnt = chunk_count(c, len);
    if (cnt == 0) break;
    const uint32_t bit0 = c * 4u * static_cast<uint32_t>(bits);
    const int sh = static_cast<int>(bit0 & 7u);
    const uint32_t acc =
        static_cast<uint32_t>(devutil::load_bytes(src + (bit0 >> 3), (sh + cnt * bits + 7) / 8) >> sh);
    float r[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) r[q] = dequantize_one<KIND>((acc >> (q * bits)) & mask, p, L.s, bits);
    const uint32_t e = c * 4u;
    if (cnt == 4 && L.vec) {
      float4* pp = reinterpret_cast<float4*>(o + e);
      float4 a = make_float4(r[0], r[1], r[2], r[3]);
      if (ADD) {
        const float4 a0 = *pp;
        a = make_float4(__fadd_rn(a0.x, a.x), __fadd_rn(a0.y, a.y), __fadd_rn(a0.z, a.z), __fadd_rn(a0.w, a.w));
      }
      __stcs(pp, a);
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (q < cnt) o[e + q] = ADD ? __fadd_rn(o[e + q], r[q]) : r[q];
      }
    }
  }
}

DevLayout dev_layout(const Layout& H, size_t n) {
  DevLayout L;
  L.bits = H.bits;
  L.bucket = static_cast<uint32_t>(H.bucket);
  L.packed = static_cast<uint32_t>(H.packed_bucket);
  L.nb = (n + L.bucket - 1) / L.bucket;
  L.last_len = static_cast<uint32_t>(n - (L.nb - 1) * L.bucket);
  L.s = H.s;
  L.sf = static_cast<float>(H.s);
  L.c_lo = nuq_c_lo(H.s);
  L.vec = 0;
  return L;
}

// Smallest power-of-two team (at least 4) with kChunksPerThread * W chunks of 4
// covering a bucket: 4 for bucket 64, 32 for 512, 512 for 8192.
int team_width(size_t bucket) {
  const int chunks = static_cast<int>((bucket + 3) / 4);
  const int need = (chunks + kChunksPerThread - 1) / kChunksPerThread;
  int w = 4;
  while (w < need) w *= 2;
  return w;
}

template <int W>
unsigned grid_of(uint64_t nb) {
  constexpr int per_block = block_threads<W>() / W;
  return static_cast<unsigned>((nb + per_block - 1) / per_block);
}

template <int W>
void launch_encode(int kind, const float* x, uint8_t* out, const DevLayout& L, uint64_t key, int* nf,
                   cudaStream_t s) {
  const unsigned g = grid_of<W>(L.nb);
  constexpr int B = block_threads<W>();
  if (kind == NUQ) {
    qsgd_encode_kernel<W, NUQ><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else if (kind == QSGD_MAX) {
    qsgd_encode_kernel<W, QSGD_MAX><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else {
    qsgd_encode_kernel<W, QSGD_L2><<<g, B, 0, s>>>(x, out, L, key, nf);
  }
}

template <int W>
void launch_decode(int kind, const uint8_t* in, float* out, const DevLayout& L, bool add, cudaStream_t s) {
  const unsigned g = grid_of<W>(L.nb);
  constexpr int B = block_threads<W>();
  if (kind == NUQ) {
    if (add)
      qsgd_decode_kernel<W, NUQ, true><<<g, B, 0, s>>>(in, out, L);
    else
      qsgd_decode_kernel<W, NUQ, false><<<g, B, 0, s>>>(in, out, L);
  } else {  // qsgd decodes the same for both norms
    if (add)
      qsgd_decode_kernel<W, QSGD_L2, true><<<g, B, 0, s>>>(in, out, L);
    else
      qsgd_decode_kernel<W, QSGD_L2, false><<<g, B, 0, s>>>(in, out, L);
  }
}

#define GW_QSGD_DISPATCH(w, CALL) \
  switch (w) {                    \
    case 4:                       \
      CALL(4);                    \
      break;                      \
    case 8:                       \
      CALL(8);                    \
      break;                      \
    case 16:                      \
      CALL(16);                   \
      break;                      \
    case 32:                      \
      CALL(32);                   \
      break;                      \
    case 64:                      \
      CALL(64);                   \
      break;                      \
    case 128:                     \
      CALL(128);                  \
      break;                      \
    case 256:                     \
      CALL(256);                  \
      break;                      \
    default:                      \
      CALL(512);                  \
      break;                      \
  }

class QuantDevice final : public DeviceCompressor {
 public:
  QuantDevice(const Compressor& c, const Layout& L) : c_(c), L_(L), w_(team_width(L.bucket)) {}
  const Compressor& host() const override { return c_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                void* stream) const override {
    if (n == 0) return 0;
    DevLayout L = dev_layout(L_, n);
    L.vec = (L.bucket % 4 == 0 && devutil::aligned(d_x, 16)) ? 1 : 0;
    cudaStream_t s = devutil::as_stream(stream);
#define GW_CALL(W) launch_encode<W>(L_.kind, d_x, d_out, L, rng_key, d_nonfinite, s)
    GW_QSGD_DISPATCH(w_, GW_CALL)
#undef GW_CALL
    devutil::check_launch(L_.kind == NUQ ? "nuq encode" : "qsgd encode");
    return L_.total_bytes(n);
  }

  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    run_decode(d_in, bytes, n, d_out, false, stream);
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    run_decode(d_in, bytes, n, d_acc, true, stream);
  }

 private:
  void run_decode(const uint8_t* in, size_t bytes, size_t n, float* out, bool add, void* stream) const {
    const size_t want = L_.total_bytes(n);
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, c_.spec(), ": payload of ", bytes, " bytes for ", n,
               " values (want ", want, ")");
    if (n == 0) return;
    DevLayout L = dev_layout(L_, n);
    L.vec = (L.bucket % 4 == 0 && devutil::aligned(out, 16)) ? 1 : 0;
    cudaStream_t s = devutil::as_stream(stream);
#define GW_CALL(W) launch_decode<W>(L_.kind, in, out, L, add, s)
    GW_QSGD_DISPATCH(w_, GW_CALL)
#undef GW_CALL
    devutil::check_launch(add ? "qsgd/nuq decode_add" : "qsgd/nuq decode");
  }

  const Compressor& c_;
  Layout L_;
  int w_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device(const Compressor& host, const Layout& L) {
  return std::make_unique<QuantDevice>(host, L);
}

}  // namespace qsgd

std::unique_ptr<DeviceCompressor> make_device_qsgd(const Compressor& c) {
  const auto* q = dynamic_cast<const QsgdCompressor*>(&c);
  if (!q) return nullptr;
  const QsgdParams& p = q->params();
  return qsgd::make_device(
      c, qsgd::make_layout(p.norm == QsgdNorm::MAX ? qsgd::QSGD_MAX : qsgd::QSGD_L2, p.bits, p.bucket));
}

}  // namespace gw
