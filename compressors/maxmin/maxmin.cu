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
// byte. Decode writes one coalesced 16-byte store per chunk. The kernels are
// common/bucket_kernels.cuh's (shared with qsgd.cu); this file holds the maxmin
// math they call. The per-element float math is maxmin_kernels.h's, written with
// explicit round-to-nearest intrinsics (no contraction, no fast-math), so levels
// match the CPU bit for bit.
#include <cfloat>
#include <cstdint>
#include <memory>

#include "compressors/common/bitpack.cuh"
#include "compressors/common/bucket_device.cuh"
#include "compressors/common/bucket_kernels.cuh"
#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/maxmin/maxmin.h"

namespace gw {
namespace {

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

// The maxmin math of the shared kernels (the Quant of common/bucket_kernels.cuh).
// The kernel is bound by integer issue as much as by memory (the RNG alone is about
// 30% of the copy time of the input), so the per-element work avoids the integer
// pipe where an exact float or multiply-add form exists:
//   - NaN/Inf detection: fma(v, 0, s) stays finite unless some v is NaN or +-Inf;
//   - trunc(t) for t in [0, 255]: the low bits of t + 2^23 rounded down (one FADD);
//   - packing: level q goes in with one IMAD, acc += bits(t + 2^23) * 2^(q*bits),
//     the 2^23 offsets removed once per chunk (wrap-around arithmetic is exact);
//   - full buckets (len a multiple of the team's span) skip the per-value bounds.
struct MaxMinQuant {
  using Layout = DevLayout;
  static constexpr int kHeaderBytes = 8;  // {float32 min, float32 scale}

  struct Stats {
    float mx = -INFINITY, mn = INFINITY;  // this order compiles to the same code as before
    __device__ __forceinline__ void add(float v) {
      mn = fminf(mn, v);
      mx = fmaxf(mx, v);
    }
  };

  // Chunk c = k*W + t of the team's bucket is thread t's k-th chunk; its 4 levels
  // are packed and written as common/bitpack.cuh lays out. BITS: the bit width
  // when fixed at compile time (the common 4 and 8: the code stores then need no
  // runtime size dispatch), 0 for L.bits.
  template <int W, int K, int BITS, bool FULL>
  static __device__ __forceinline__ void encode_bucket(const float* __restrict__ v, uint8_t* __restrict__ out,
                                                       const DevLayout& L, uint64_t key, int* __restrict__ nonfinite,
                                                       uint64_t j, uint32_t len, uint32_t t, bool valid) {
    float val[K][4];
    Stats st;
    const float nf = bucketq::load_bucket<W, K, FULL>(v, len, L, t, val, st);
    const float mn = bitpack::team_all<W>(st.mn, [](float a, float b) { return fminf(a, b); });
    const float mx =
        bitpack::team_all<W>(bitpack::fold_nonfinite(st.mx, nf), [](float a, float b) { return fmaxf(a, b); });
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
      devutil::store_bytes(out + kHeaderBytes * j, h, kHeaderBytes);
      if (bad && nonfinite) *nonfinite = 1;
    }

    const int bits = BITS ? BITS : L.bits;
    uint8_t* dst = out + kHeaderBytes * L.nb + j * L.packed;
    const uint32_t i0 = static_cast<uint32_t>(j * L.bucket);  // element index mod 2^32
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t c = k * W + t;
      const int cnt = FULL ? 4 : bitpack::chunk_count(c, len);
      uint32_t acc = 0;
      if (!bad) {
        const uint32_t base = i0 + c * 4u;
        uint32_t w[4];  // the 4 values' rounding numbers, one hash per two (common/rng.h)
        if (FULL)
          rng_sr_top4(key, base, w);  // a full bucket has 4*K*W values: base is even
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

  struct Params {
    float pmin, scale;
  };
  static __device__ __forceinline__ Params decode_params(uint64_t h, const Layout&) {
    return Params{__uint_as_float(static_cast<uint32_t>(h)), __uint_as_float(static_cast<uint32_t>(h >> 32))};
  }
  // dequantize_one(): fma(scale, float(level), min); float(level) exactly, by the
  // 2^23 trick (level < 256).
  static __device__ __forceinline__ float decode_one(uint32_t lv, const Params& p, const Layout&, int) {
    const float lf = __fsub_rn(__uint_as_float(0x4b000000u | lv), 8388608.0f);
    return __fmaf_rn(p.scale, lf, p.pmin);
  }
};

// The host side of common/bucket_device.cuh. maxmin encodes with kChunksPerThread
// chunks per thread everywhere (qsgd.cu holds more: no gain measured here).
class MaxMinLaunch {
 public:
  explicit MaxMinLaunch(const MaxMinCompressor& c)
      : c_(c), w_(bitpack::team_width(static_cast<size_t>(c.params().bucket))) {}

  DevLayout layout(size_t n) const {
    const MaxMinParams& p = c_.params();
    DevLayout L;
    bucketq::set_geometry(L, p.bits, static_cast<size_t>(p.bucket),
                          (static_cast<size_t>(p.bucket) * p.bits + 7) / 8, n);
    L.levels_f = static_cast<float>((1u << p.bits) - 1u);
    return L;
  }
  size_t total_bytes(size_t n) const { return c_.encoded_bytes(n); }
  void check_payload(size_t bytes, size_t n) const {
    const size_t want = c_.encoded_bytes(n);
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, "maxmin: payload of ", bytes, " bytes for ", n, " values (want ",
               want, " for ", c_.spec(), ")");
  }

  void encode(const float* x, uint8_t* out, const DevLayout& L, uint64_t key, int* nf, cudaStream_t s) const {
#define GW_CALL(W) bucketq::launch_encode<MaxMinQuant, W, kChunksPerThread>(x, out, L, key, nf, s)
    GW_TEAM_WIDTH_DISPATCH(w_, GW_CALL)
#undef GW_CALL
  }
  void decode(const uint8_t* in, float* out, const DevLayout& L, bool add, cudaStream_t s) const {
#define GW_CALL(W) bucketq::launch_decode<MaxMinQuant, W>(in, out, L, add, s)
    GW_TEAM_WIDTH_DISPATCH(w_, GW_CALL)
#undef GW_CALL
  }
  const char* encode_name() const { return "maxmin encode"; }
  const char* decode_name(bool add) const { return add ? "maxmin decode_add" : "maxmin decode"; }

 private:
  const MaxMinCompressor& c_;
  int w_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_maxmin(const Compressor& c) {
  const auto* m = dynamic_cast<const MaxMinCompressor*>(&c);
  if (!m) return nullptr;
  return std::make_unique<bucketq::BucketDevice<MaxMinLaunch>>(*m, MaxMinLaunch(*m));
}

}  // namespace gw
