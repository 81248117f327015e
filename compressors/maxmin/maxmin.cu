// CUDA twin of the maxmin codec (maxmin.h): payloads byte-identical to the CPU
// kernels for the same key, decode bit-identical.
//
// Mapping (common/bitpack.cuh): one "team" of W threads per bucket, W a power of
// two with 4*W chunks of 4 values >= the bucket (W = 4 for bucket 64, 32 for 512,
// 512 for 8192). Teams of up to a warp share 256-thread blocks; larger teams are
// one block. Each thread holds 4 chunks (16 values) in registers, so x is read
// once: coalesced 16-byte loads when aligned, team min/max/non-finite reduction
// (shuffles, plus shared memory across warps), then quantize and write whole
// bytes (see common/bitpack.cuh for odd bit widths); no two threads write the same
// byte. Decode writes one coalesced 16-byte store per chunk. The per-element float
// math is maxmin_kernels.h's, written with explicit round-to-nearest intrinsics
// (no contraction, no fast-math), so levels match the CPU bit for bit.
#include <cfloat>
#include <cstdint>
#include <memory>

#include "common/bitpack.cuh"
#include "common/error.h"
#include "common/rng.h"
#include "core/device_compressor.h"
#include "core/device_util.cuh"
#include "maxmin/maxmin.h"

namespace gw {
namespace {

using bitpack::block_threads;
using bitpack::chunk_count;
using bitpack::kChunksPerThread;

struct DevLayout {
  int bits;
  uint32_t bucket;    // S
  uint32_t packed;    // P = ceil(S * bits / 8)
  uint32_t last_len;  // values in the last bucket
  uint64_t nb;        // buckets
  float levels_f;     // 2^bits - 1
  int vec;            // 16-byte float access is possible (S % 4 == 0, buffer aligned)
  bitpack::PackMul pm;
};

// Chunk c = k*W + t of the team's bucket is thread t's k-th chunk; its 4 levels
// are packed and written as common/bitpack.cuh lays out.
// The kernel is bound by integer issue as much as by memory (the RNG alone is about
// 30% of the copy time of the input), so the per-element work avoids the integer
// pipe where an exact float or multiply-add form exists:
//   - NaN/Inf detection: fma(v, 0, s) stays finite unless some v is NaN or +-Inf;
//   - trunc(t) for t in [0, 255]: the low bits of t + 2^23 rounded down (one FADD);
//   - packing: level q goes in with one IMAD, acc += bits(t + 2^23) * 2^(q*bits),
//     the 2^23 offsets removed once per chunk (wrap-around arithmetic is exact);
//   - full buckets (len a multiple of the team's span) skip the per-value bounds.
// BITS: the bit width when fixed at compile time (the common 4 and 8: the code
// stores then need no runtime size dispatch), 0 for L.bits.
template <int W, int BITS, bool FULL>
__device__ __forceinline__ void encode_bucket(const float* __restrict__ v, uint8_t* __restrict__ out,
                                              const DevLayout& L, uint64_t key, int* __restrict__ nonfinite,
                                              uint64_t j, uint32_t len, uint32_t t, bool valid) {
  constexpr int K = kChunksPerThread;
  float val[K][4];
  float mn = INFINITY, mx = -INFINITY, nf = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int c = bitpack::load_chunk<FULL>(v, k * W + t, len, L, val[k]);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (FULL || q < c) {
        mn = fminf(mn, val[k][q]);
        mx = fmaxf(mx, val[k][q]);
        nf = __fmaf_rn(val[k][q], 0.0f, nf);  // NaN once some value is NaN or +-Inf
      }
    }
  }
  mn = bitpack::team_all<W>(mn, [](float a, float b) { return fminf(a, b); });
  mx = bitpack::team_all<W>(bitpack::fold_nonfinite(mx, nf), [](float a, float b) { return fmaxf(a, b); });
  const bool bad = bitpack::is_folded_nonfinite(mx);
  // Teams past the end (len 0) write nothing but stay for the shuffles below.

  // bucket_params() of maxmin_kernels.h.
  float pmin, scale, inv;
  if (bad) {
    pmin = __uint_as_float(0x7fc00000u);
    scale = 0.0f;
    inv = 0.0f;
  } else {
    pmin = __fadd_rn(mn, 0.0f);  // -0 -> +0
    float s = __fdiv_rn(__fsub_rn(mx, pmin), L.levels_f);
    if (!(s >= FLT_MIN)) {
      s = 0.0f;
    } else if (s > FLT_MAX) {
      s = FLT_MAX;
    }
    scale = s;
    inv = s > 0.0f ? __fdiv_rn(1.0f, s) : 0.0f;
  }
  if (valid && t == 0) {
    const uint64_t h = static_cast<uint64_t>(__float_as_uint(pmin)) |
                       (static_cast<uint64_t>(__float_as_uint(scale)) << 32);
    devutil::store_bytes(out + 8 * j, h, 8);
    if (bad && nonfinite) *nonfinite = 1;
  }

  const int bits = BITS ? BITS : L.bits;
  uint8_t* dst = out + 8 * L.nb + j * L.packed;
  const uint32_t i0 = static_cast<uint32_t>(j * L.bucket);  // element index mod 2^32
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const uint32_t c = k * W + t;
    const int cnt = FULL ? 4 : chunk_count(c, len);
    uint32_t acc = 0;
    if (!bad) {
      const uint32_t base = i0 + c * 4u;
      uint32_t w[4];  // the 4 values' rounding numbers, one hash per two (common/rng.h)
      if (FULL)
        rng_sr_top4(key, base, w);  // a full bucket has 16*W values: base is even
      else
        rng_sr_top4_any(key, base, w);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (FULL || q < cnt) {
          // quantize_one() of maxmin_kernels.h: t = min(fma(x - min, inv, u), L),
          // level = trunc(t) = bits(t + 2^23 rounded down) - 0x4b000000.
          const float d = __fsub_rn(val[k][q], pmin);
          const float u = rng_sr_uniform_of_top(w[q]);
          float tq = __fmaf_rn(d, inv, u);
          tq = fminf(tq, L.levels_f);  // FMNMX; tq is never NaN here
          acc += __float_as_uint(__fadd_rd(tq, 8388608.0f)) * L.pm.mul[q];
          if (!FULL) acc -= 0x4b000000u * L.pm.mul[q];
        }
      }
      if (FULL) acc -= L.pm.off4;
    }
    bitpack::store_chunk_codes<FULL>(dst, acc, c, cnt, len, t, bits);
  }
}

template <int W, int BITS>
__global__ void __launch_bounds__(block_threads<W>(), bitpack::encode_min_blocks<W>())
    maxmin_encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, DevLayout L, uint64_t key,
                         int* __restrict__ nonfinite) {
  constexpr int TPB = block_threads<W>();
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  const bool valid = j < L.nb;
  const uint32_t len = !valid ? 0u : (j + 1 == L.nb ? L.last_len : L.bucket);
  // Full: every chunk of every thread holds 4 values. Uniform across the warp
  // except where a warp holds the last bucket (then all its teams take the
  // general path, which is always correct).
  const bool full = __all_sync(0xffffffffu, len == 4u * kChunksPerThread * W);
  if (full) {
    encode_bucket<W, BITS, true>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  } else {
    encode_bucket<W, BITS, false>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  }
}

template <int W, bool ADD>
__global__ void __launch_bounds__(block_threads<W>())
    maxmin_decode_kernel(const uint8_t* __restrict__ in, float* __restrict__ out, DevLayout L) {
  constexpr int K = kChunksPerThread;
  constexpr int TPB = block_threads<W>();
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  if (j >= L.nb) return;
  const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
  const uint64_t h = devutil::load_bytes(in + 8 * j, 8);
  const float pmin = __uint_as_float(static_cast<uint32_t>(h));
  const float scale = __uint_as_float(static_cast<uint32_t>(h >> 32));
  const uint8_t* src = in + 8 * L.nb + j * L.packed;
  float* o = out + j * L.bucket;
  const int bits = L.bits;
  const uint32_t mask = (1u << bits) - 1u;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const uint32_t c = k * W + t;
    const int cnt = chunk_count(c, len);
    if (cnt == 0) break;
    const uint32_t acc = bitpack::load_chunk_codes(src, c, cnt, bits);
    float r[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const uint32_t lv = (acc >> (q * bits)) & mask;
      // dequantize_one(): fma(scale, float(level), min); float(level) exactly, by
      // the 2^23 trick (level < 256).
      const float lf = __fsub_rn(__uint_as_float(0x4b000000u | lv), 8388608.0f);
      r[q] = __fmaf_rn(scale, lf, pmin);
    }
    bitpack::store_chunk<ADD>(o, c, r, cnt, L);
  }
}

DevLayout layout_for(const MaxMinParams& p, size_t n) {
  DevLayout L;
  L.bits = p.bits;
  L.bucket = static_cast<uint32_t>(p.bucket);
  L.packed = static_cast<uint32_t>((static_cast<size_t>(p.bucket) * p.bits + 7) / 8);
  L.nb = (n + L.bucket - 1) / L.bucket;
  L.last_len = static_cast<uint32_t>(n - (L.nb - 1) * L.bucket);
  L.levels_f = static_cast<float>((1u << p.bits) - 1u);
  L.pm = bitpack::pack_multipliers(p.bits);
  L.vec = 0;
  return L;
}

using bitpack::grid_of;

template <int W>
void launch_encode(const float* x, uint8_t* out, const DevLayout& L, uint64_t key, int* nf, cudaStream_t s) {
  const unsigned g = grid_of<W>(L.nb);
  constexpr int B = block_threads<W>();
  if (L.bits == 4) {
    maxmin_encode_kernel<W, 4><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else if (L.bits == 8) {
    maxmin_encode_kernel<W, 8><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else {
    maxmin_encode_kernel<W, 0><<<g, B, 0, s>>>(x, out, L, key, nf);
  }
}

template <int W>
void launch_decode(const uint8_t* in, float* out, const DevLayout& L, bool add, cudaStream_t s) {
  if (add) {
    maxmin_decode_kernel<W, true><<<grid_of<W>(L.nb), block_threads<W>(), 0, s>>>(in, out, L);
  } else {
    maxmin_decode_kernel<W, false><<<grid_of<W>(L.nb), block_threads<W>(), 0, s>>>(in, out, L);
  }
}

class MaxMinDevice final : public DeviceCompressor {
 public:
  explicit MaxMinDevice(const MaxMinCompressor& c)
      : c_(c), w_(bitpack::team_width(static_cast<size_t>(c.params().bucket))) {}
  const Compressor& host() const override { return c_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                void* stream) const override {
    if (n == 0) return 0;
    DevLayout L = layout_for(c_.params(), n);
    L.vec = (L.bucket % 4 == 0 && devutil::aligned(d_x, 16)) ? 1 : 0;
    cudaStream_t s = devutil::as_stream(stream);
#define GW_CALL(W) launch_encode<W>(d_x, d_out, L, rng_key, d_nonfinite, s)
    GW_TEAM_WIDTH_DISPATCH(w_, GW_CALL)
#undef GW_CALL
    devutil::check_launch("maxmin encode");
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
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, "maxmin: payload of ", bytes, " bytes for ", n, " values (want ",
               want, " for ", c_.spec(), ")");
    if (n == 0) return;
    DevLayout L = layout_for(c_.params(), n);
    L.vec = (L.bucket % 4 == 0 && devutil::aligned(out, 16)) ? 1 : 0;
    cudaStream_t s = devutil::as_stream(stream);
#define GW_CALL(W) launch_decode<W>(in, out, L, add, s)
    GW_TEAM_WIDTH_DISPATCH(w_, GW_CALL)
#undef GW_CALL
    devutil::check_launch(add ? "maxmin decode_add" : "maxmin decode");
  }

  const MaxMinCompressor& c_;
  int w_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_maxmin(const Compressor& c) {
  const auto* m = dynamic_cast<const MaxMinCompressor*>(&c);
  if (!m) return nullptr;
  return std::make_unique<MaxMinDevice>(*m);
}

}  // namespace gw
