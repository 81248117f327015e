// CUDA twin of the qsgd and nuq codecs (qsgd.h, nuq/nuq.h): payloads
// byte-identical to the CPU kernels for the same key, decodes bit-identical.
//
// Mapping (common/bitpack.cuh, as maxmin.cu): one "team" of W threads per bucket,
// W a power of two with 4*W chunks of 4 values >= the bucket (W = 4 for bucket 64,
// 32 for 512, 512 for 8192). Teams of up to a warp share 256-thread blocks; larger
// teams are one block. Each thread holds 4 chunks (16 values) in registers, so x
// is read once:
// team max|v| / non-finite reduction, then (l2 norm) the team sum of the integer
// squares (uint64, exact: any order gives qsgd_kernels.h's sum), then quantize and
// write whole bytes (odd bit widths: two neighbouring chunks, written by the even
// thread); no two threads write the same byte. Decode: one coalesced 16-byte store
// per chunk. The kernels are common/bucket_kernels.cuh's (shared with maxmin.cu);
// this file holds the qsgd / nuq math they call. The per-element float math is
// qsgd_kernels.h's, written with explicit round-to-nearest intrinsics (no
// contraction, no fast-math); the bucket math (norm, scale, 1/scale) is the
// shared GW_HOST_DEVICE code itself.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <memory>

#include "compressors/common/bitpack.cuh"
#include "compressors/common/bucket_device.cuh"
#include "compressors/common/bucket_kernels.cuh"
#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/qsgd/qsgd.h"
#include "compressors/qsgd/qsgd_kernels.h"

namespace gw {
namespace qsgd {
namespace {

struct DevLayout {
  int bits;
  uint32_t bucket;    // S
  uint32_t packed;    // P = ceil(S * bits / 8)
  uint32_t last_len;  // values in the last bucket
  uint32_t s;         // levels
  uint64_t nb;        // buckets
  float sf;           // float(s)
  float two_ms;       // 2^-s (nuq, s <= 63)
  uint32_t hbias;     // (s - 126) * 2^23 - 1, wrapping (nuq)
  uint32_t sign_mul[4];  // 2^(bits-1) * pm.mul[q]: chunk value q's sign bit, in place
  bitpack::PackMul pm;
  int vec;            // 16-byte float access is possible (S % 4 == 0, buffer aligned)
};

// The magnitude level of quantize_one() of qsgd_kernels.h plus level_bias<KIND>,
// bit-identical, with fewer instructions where an exact form exists (the kernel
// is bound by instruction issue as much as by memory, see maxmin.cu): qsgd's
// trunc(t), t in [0, s], is the low bits of t + 2^23 rounded down (one FADD
// instead of a conversion), left biased by 2^23's bits; the caller packs it by a
// multiply-add and removes the biases once per chunk.
template <int KIND>
__host__ __device__ constexpr uint32_t level_bias() {
  return KIND == NUQ ? 0u : 0x4b000000u;
}
//
// nuq (nuq_level() of qsgd_kernels.h) both branches at once, in integers, as the
// AVX-512 kernel (qsgd_avx512.cpp, quant16, which derives it):
//   - y = |x| * inv is not clamped to 1 (it exceeds 1 only by rounding, by at
//     most 2^-22, where the level comes out s or s + 1: clamped to s);
//   - y >= 2^(1-s): with bits(y) = (k + 127 - s) 2^23 + m,
//     t = bits(y) + (s - 126) 2^23 - 1 - U 2^7 = (k + 1) 2^23 + (m - 1 - U 2^7),
//     the last term in [-2^23, 2^23), so t >> 23 = k + [U 2^7 < m];
//   - y < 2^(1-s) (bits <= 7, s <= 63): l = [u < y 2^(s-1)] is the same formula
//     on bits(w) for w = 2^-s + y/2 rounded up (one FFMA.RP), and max(bits(y),
//     bits(w)) picks the branch (the floats are non-negative);
//   - bits 8 (s = 127): y < 2^(1-s) is subnormal, bits(y) = m, and bits(y) alone
//     gives [u < y 2^126] = [U 2^7 < m].
// U 2^7 is w >> 9 of the top word. 8 instructions instead of 15.
template <int KIND, int BITS>
__device__ __forceinline__ uint32_t quantize_dev(float x, float inv, const DevLayout& L, uint32_t w) {
  uint32_t l;
  if (KIND == NUQ) {
    const float y = __fmul_rn(fabsf(x), inv);
    uint32_t z = __float_as_uint(y);
    if (BITS != 0 ? BITS != 8 : L.s <= 63u) z = max(z, __float_as_uint(__fmaf_ru(y, 0.5f, L.two_ms)));
    l = min((z + L.hbias - (w >> 9)) >> 23, L.s);
  } else {
    const float u = rng_sr_uniform_of_top(w);
    float t = __fmaf_rn(fabsf(x), inv, u);  // >= 0; |x| as an operand modifier
    t = fminf(t, L.sf);  // FMNMX; t is never NaN here
    l = __float_as_uint(__fadd_rd(t, 8388608.0f));
  }
  return l;
}

// The qsgd / nuq math of the shared kernels (the Quant of
// common/bucket_kernels.cuh), one type per KIND.
template <int KIND>
struct QsgdQuant {
  using Layout = DevLayout;
  static constexpr int kHeaderBytes = 4;  // float32 scale
  static constexpr uint32_t kBias = level_bias<KIND>();

  struct Stats {
    float amax = 0.0f;
    __device__ __forceinline__ void add(float v) { amax = fmaxf(amax, fabsf(v)); }
  };

  // Chunk c = k*W + t of the team's bucket is thread t's k-th chunk; its 4 codes
  // are packed and written as common/bitpack.cuh lays out. BITS: the bit width
  // when fixed at compile time (the common 4 and 8: the code stores then need no
  // runtime size dispatch), 0 for L.bits. K: chunks per thread (see encode_chunks).
  template <int W, int K, int BITS, bool FULL>
  static __device__ __forceinline__ void encode_bucket(const float* __restrict__ v, uint8_t* __restrict__ out,
                                                       const DevLayout& L, uint64_t key, int* __restrict__ nonfinite,
                                                       uint64_t j, uint32_t len, uint32_t t, bool valid) {
    float val[K][4];
    Stats st;
    const float nf = bucketq::load_bucket<W, K, FULL>(v, len, L, t, val, st);
    const float amax =
        bitpack::team_all<W>(bitpack::fold_nonfinite(st.amax, nf), [](float a, float b) { return fmaxf(a, b); });
    const bool bad = bitpack::is_folded_nonfinite(amax);
    // Teams past the end (len 0) write nothing but stay for the shuffles.

    float raw = amax;
    if (KIND != QSGD_MAX) {
      // Each chunk's 4 terms chained on the host SIMD kernels' addend C =
      // 2^(2e+4) (sumsq_addend in qsgd_kernels.h): acc = fma(v, v, acc) from C.
      // Four squares of the bucket add up to less than C, so acc stays in
      // [C, 2C), where doubles are 1/P apart: each step adds round(v^2 * P) / P,
      // exactly the host's term (v^2 * P is never halfway between integers: it
      // is a square times an even power of two), and bits(acc) - bits(C) is the
      // chunk's integer sum. Zeros past the end add nothing. One 64-bit integer
      // add per chunk instead of per value (the integer pipe is this kernel's
      // bottleneck).
      const int e = amax_exponent(amax);
      const double C = sumsq_addend(e);
      unsigned long long sum = 0;
      if (!bad) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
          double acc = C;
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const double d = static_cast<double>(val[k][q]);
            acc = __fma_rn(d, d, acc);
          }
          sum += static_cast<unsigned long long>(__double_as_longlong(acc));
        }
        sum -= K * sumsq_addend_bits(e);
      }
      sum = bitpack::team_all<W>(sum, [](unsigned long long a, unsigned long long b) { return a + b; });
      if (!bad) raw = l2_from_sum(sum, e);
    }
    const BucketParams p = bucket_params(static_cast<Kind>(KIND), raw, bad != 0, L.s);
    if (valid && t == 0) {
      devutil::store_bytes(out + kHeaderBytes * j, __float_as_uint(p.scale), kHeaderBytes);
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
            const uint32_t lb = quantize_dev<KIND, BITS>(val[k][q], p.inv, L, w[q]);
            acc += lb * L.pm.mul[q];
            // A nonzero level of a negative value carries the sign bit.
            if (static_cast<int32_t>(__float_as_uint(val[k][q])) < 0 && lb != kBias) acc += L.sign_mul[q];
            if (!FULL) acc -= kBias * L.pm.mul[q];
          }
        }
        if (FULL) acc -= kBias == 0u ? 0u : L.pm.off4;
      }
      bitpack::store_chunk_codes<FULL>(dst, acc, c, cnt, len, t, bits);
    }
  }

  static __device__ __forceinline__ BucketParams decode_params(uint64_t h, const Layout& L) {
    return qsgd::decode_params(__uint_as_float(static_cast<uint32_t>(h)), L.s);
  }
  static __device__ __forceinline__ float decode_one(uint32_t code, const BucketParams& p, const Layout& L,
                                                     int bits) {
    return dequantize_one<KIND>(code, p, L.s, bits);
  }
};

// Chunks per thread of the encode: 8 (32 values) above bucket 64. Each thread of
// a team repeats the bucket's work (reductions, norm, scale, header), so more
// values per thread spread it thinner: on an H100 the nuq 4-bit encode went
// from 0.85 to 0.91 of copy bandwidth (256 MiB), qsgd 4-bit from 0.93 to 0.95,
// at lower occupancy. Bucket 64 keeps 4: with 8, its team of 4 (the smallest)
// would span 128 values. (maxmin.cu keeps 4 everywhere: no gain measured.)
int encode_chunks(size_t bucket) { return bucket <= 64 ? 4 : 8; }

template <int W, int K>
void launch_encode(int kind, const float* x, uint8_t* out, const DevLayout& L, uint64_t key, int* nf,
                   cudaStream_t s) {
  if (kind == NUQ) {
    bucketq::launch_encode<QsgdQuant<NUQ>, W, K>(x, out, L, key, nf, s);
  } else if (kind == QSGD_MAX) {
    bucketq::launch_encode<QsgdQuant<QSGD_MAX>, W, K>(x, out, L, key, nf, s);
  } else {
    bucketq::launch_encode<QsgdQuant<QSGD_L2>, W, K>(x, out, L, key, nf, s);
  }
}

template <int W>
void launch_decode(int kind, const uint8_t* in, float* out, const DevLayout& L, bool add, cudaStream_t s) {
  if (kind == NUQ) {
    bucketq::launch_decode<QsgdQuant<NUQ>, W>(in, out, L, add, s);
  } else {  // qsgd decodes the same for both norms
    bucketq::launch_decode<QsgdQuant<QSGD_L2>, W>(in, out, L, add, s);
  }
}

// The host side of common/bucket_device.cuh.
class QuantLaunch {
 public:
  QuantLaunch(const Compressor& c, const Layout& L)
      : c_(c),
        L_(L),
        w_(bitpack::team_width(L.bucket)),
        ek_(encode_chunks(L.bucket)),
        ew_(bitpack::team_width(L.bucket, ek_)) {}

  DevLayout layout(size_t n) const {
    const Layout& H = L_;
    DevLayout L;
    bucketq::set_geometry(L, H.bits, H.bucket, H.packed_bucket, n);
    L.s = H.s;
    L.sf = static_cast<float>(H.s);
    L.two_ms = H.s <= 63 ? std::ldexp(1.0f, -static_cast<int>(H.s)) : 0.0f;
    L.hbias = (H.s - 126u) * 0x800000u - 1u;
    for (int q = 0; q < 4; ++q) L.sign_mul[q] = L.pm.mul[q] << (H.bits - 1);
    return L;
  }
  size_t total_bytes(size_t n) const { return L_.total_bytes(n); }
  void check_payload(size_t bytes, size_t n) const {
    const size_t want = L_.total_bytes(n);
    GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, c_.spec(), ": payload of ", bytes, " bytes for ", n,
               " values (want ", want, ")");
  }

  void encode(const float* x, uint8_t* out, const DevLayout& L, uint64_t key, int* nf, cudaStream_t s) const {
    if (ek_ == 4) {
      launch_encode<4, 4>(L_.kind, x, out, L, key, nf, s);  // bucket <= 64: a team of 4
    } else {
      // 8 chunks per thread: teams of 4..256 for buckets up to 8192.
      switch (ew_) {
#define GW_CASE(W)                                    \
  case W:                                             \
    launch_encode<W, 8>(L_.kind, x, out, L, key, nf, s); \
    break;
        GW_CASE(4) GW_CASE(8) GW_CASE(16) GW_CASE(32) GW_CASE(64) GW_CASE(128)
        default:
          launch_encode<256, 8>(L_.kind, x, out, L, key, nf, s);
#undef GW_CASE
      }
    }
  }
  void decode(const uint8_t* in, float* out, const DevLayout& L, bool add, cudaStream_t s) const {
#define GW_CALL(W) launch_decode<W>(L_.kind, in, out, L, add, s)
    GW_TEAM_WIDTH_DISPATCH(w_, GW_CALL)
#undef GW_CALL
  }
  const char* encode_name() const { return L_.kind == NUQ ? "nuq encode" : "qsgd encode"; }
  const char* decode_name(bool add) const { return add ? "qsgd/nuq decode_add" : "qsgd/nuq decode"; }

 private:
  const Compressor& c_;
  Layout L_;
  int w_;   // decode team width (kChunksPerThread per thread)
  int ek_;  // encode chunks per thread
  int ew_;  // encode team width
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device(const Compressor& host, const Layout& L) {
  return std::make_unique<bucketq::BucketDevice<QuantLaunch>>(host, QuantLaunch(host, L));
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
