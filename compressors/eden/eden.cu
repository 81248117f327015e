// eden's device side: the CUDA twin of EdenLevels, the rotated-domain codec
// (eden.h), with payloads byte-identical to the CPU's and decodes
// bit-identical. The rotation has its own twin (compressors/common/
// hadamard_device.h, bit-identical to hadamard::rotate), so a rotate then this
// encode on the device gives the bytes the CPU round scheme sends. The round
// scheme (EdenCompressor) itself has no twin: the engine stages a round
// scheme's device buffers to the host (src/comm/communicator_placement.cpp),
// where produce/consume rotate; make_device_eden returns null for it.
//
// Encode: a CUDA block of 512 threads per bucket of 16 Ki rotated values at a
// time, looping over buckets b, b + grid, ... (two blocks per SM; the tables
// below are filled once per block). Thread t holds chunks c = k * 512 + t
// (k = 0..7) of 4 values in registers, read once (common/bucket_kernels.cuh's
// loads, common/bitpack.cuh's code stores). The two sums of the scale follow
// eden_sum.h's fixed order, which this thread layout was chosen for (thread t
// holds lanes 4t..4t+3). The nearest level is no search: a uniform grid of
// cells over z gives the code to within one threshold, and one comparison with
// the CPU's float midpoint settles it (EdenLayout says why it gives the CPU
// binary search's code, NaN and +-Inf included). Every float and
// double operation is an explicit round-to-nearest intrinsic and repeats the
// CPU's (eden.cpp) one for one.
// The fused encode (eden_device.h) runs the same per-bucket encode on a bucket
// it has just rotated in shared memory (common/hadamard_block.cuh: the bits of
// hadamard::rotate), so the rotated vector never reaches device memory.
// Decode: 256 threads per quarter bucket, the levels in shared memory, the
// codes and stores of common/bitpack.cuh.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "compressors/common/bitpack.cuh"
#include "compressors/common/bucket_device.cuh"
#include "compressors/common/bucket_kernels.cuh"
#include "compressors/common/hadamard.h"
#include "compressors/common/hadamard_block.cuh"
#include "compressors/eden/eden.h"
#include "compressors/eden/eden_device.h"
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
static_assert(kTeam == hadamard::blk::kBlockThreads && eden::kBucket == hadamard::kMaxBlock,
              "the fused encode rotates one bucket per CUDA block");
constexpr int kWarps = kTeam / 32;
constexpr int kMaxLevels = 256;  // 8 bits
constexpr int kMaxCells = 2048;  // the cell table of the nearest-level search (see EdenLayout)
constexpr int kEncodeBlocksPerSm = 2;  // 64 registers a thread (and 64 KiB of shared memory, fused)

constexpr int kDecodeThreads = 256;
constexpr int kDecodeChunks = 4;
constexpr uint32_t kDecodeParts = eden::kBucket / (4u * kDecodeThreads * kDecodeChunks);  // blocks per bucket

// The nearest level without a search: z's cell on a uniform grid of `cells`
// cells, idx = clamp(floor(z * cell_a + cell_b), 0, cells - 1), gives a lower
// bound cell_code[idx] on the code (how many midpoints lie at or below z), and
// the grid is fine enough that at most one midpoint lies past it:
// code = cell_code[idx] + (thresholds[cell_code[idx]] <= z), thresholds padded with
// NaN (never <=) after the last. Exactly the CPU's binary search for every z
// (NaN: 0; -Inf: 0; +Inf: 2^bits - 1); build_cells() below says why.
struct EdenLayout {
  int bits;
  uint32_t bucket;    // eden::kBucket
  uint32_t packed;    // code bytes of a whole bucket
  uint32_t last_len;  // values in the last bucket
  uint64_t nb;        // buckets
  int vec;            // 16-byte float access is possible
  bitpack::PackMul pm;
  uint32_t cells;  // a power of two <= kMaxCells
  float cell_a, cell_b, cell_max;  // cell_max = cells - 1
  float levels[kMaxLevels];      // 2^bits Lloyd-Max levels, ascending
  float thresholds[kMaxLevels];  // the 2^bits - 1 midpoints (EdenLevels::thresholds()), then NaN
  uint32_t cell_code[kMaxCells / 4];  // bytes, 4 a word
};

// The cell grid of the thresholds thr (ascending, strictly): the coarsest of
// 4, 8, ..., kMaxCells cells over [-lim, lim] (lim past the outermost
// threshold) such that every cell widened by 0.6 of a cell on both sides (the
// outer cells reach to -Inf / +Inf) holds at most one threshold. The device's
// float computation of idx lands z within far less than 0.1 cell of the exact
// cell, so with code_lo = the thresholds at or below (lower edge - 0.5 cell),
// the exact count of thresholds <= z is code_lo or code_lo + 1.
void build_cells(EdenLayout& L, const std::vector<float>& thr) {
  const double lim = (thr.empty() ? 0.0 : std::max(std::fabs(thr.front()), std::fabs(thr.back()))) + 0.25;
  uint8_t code[kMaxCells];
  for (uint32_t m = 4; m <= uint32_t(kMaxCells); m *= 2) {
    const float a = static_cast<float>(m / (2.0 * lim)), b = static_cast<float>(m / 2);
    const double w = 1.0 / a;
    bool ok = true;
    for (uint32_t i = 0; i < m && ok; ++i) {
      const double lo = (static_cast<double>(i) - b) / a, hi = lo + w;
      const double wlo = i == 0 ? -INFINITY : lo - 0.6 * w, whi = i + 1 == m ? INFINITY : hi + 0.6 * w;
      int inside = 0, below = 0;
      for (float t : thr) {
        if (t > wlo && t <= whi) ++inside;
        if (i > 0 && t <= lo - 0.5 * w) ++below;
      }
      ok = inside <= 1;
      code[i] = static_cast<uint8_t>(below);
    }
    if (!ok) continue;
    L.cells = m;
    L.cell_a = a;
    L.cell_b = b;
    L.cell_max = static_cast<float>(m - 1);
    std::memset(L.cell_code, 0, sizeof L.cell_code);
    std::memcpy(L.cell_code, code, m);
    return;
  }
  fail(GW_ERR_INTERNAL, "eden: no cell grid of at most ", kMaxCells, " cells separates the thresholds");
}

EdenLayout base_layout(const EdenLevels& c) {
  EdenLayout L{};
  L.bits = c.bits();
  for (size_t i = 0; i < c.levels().size(); ++i) L.levels[i] = c.levels()[i];
  for (size_t i = 0; i < c.thresholds().size(); ++i) L.thresholds[i] = c.thresholds()[i];
  L.thresholds[c.thresholds().size()] = std::numeric_limits<float>::quiet_NaN();  // never <= z
  build_cells(L, c.thresholds());
  return L;
}

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

// The encode's tables in shared memory, filled once per CUDA block (the
// kernels below loop over buckets).
struct EncodeTables {
  float thr[kMaxLevels];
  double lev[kMaxLevels];  // the levels as doubles (the dot's products)
  uint32_t cell_code[kMaxCells / 4];
  double warp_sums[kWarps + 1];
};

// Read after the first barrier that follows (every kernel has one before the
// first use).
__device__ __forceinline__ void load_tables(EncodeTables& T, const EdenLayout& L) {
  const uint32_t nlev = 1u << L.bits;
  for (uint32_t i = threadIdx.x; i < nlev; i += kTeam) {
    T.thr[i] = L.thresholds[i];
    T.lev[i] = static_cast<double>(L.levels[i]);
  }
  for (uint32_t i = threadIdx.x; i < L.cells / 4; i += kTeam) T.cell_code[i] = L.cell_code[i];
}

// The code of z (see EdenLayout): the count of thresholds at or below z.
__device__ __forceinline__ uint32_t nearest_code(float z, const EncodeTables& T, const EdenLayout& L) {
  const float f = fminf(fmaxf(__fmaf_rn(z, L.cell_a, L.cell_b), 0.0f), L.cell_max);  // NaN -> 0
  const uint32_t idx = __float_as_uint(__fadd_rd(f, 8388608.0f)) - 0x4b000000u;    // floor(f), f < 2^23
  uint32_t code = reinterpret_cast<const uint8_t*>(T.cell_code)[idx];
  code += T.thr[code] <= z ? 1u : 0u;
  return code;
}

// EdenLevels::encode of bucket j (len values, thread t's chunks c = k * kTeam + t
// in val, zeros past the end). Every thread of the block must call it; it
// passes at least one barrier after its last read of anything but val.
template <bool FULL>
__device__ __forceinline__ void encode_values(const float (&val)[kEncodeChunks][4], uint8_t* __restrict__ out,
                                              const EdenLayout& L, EncodeTables& T, int* __restrict__ nonfinite,
                                              uint64_t j, uint32_t len) {
  constexpr int K = kEncodeChunks;
  const uint32_t t = threadIdx.x;
  double s[4] = {0.0, 0.0, 0.0, 0.0};
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const double y = val[k][q];
      s[q] = __fma_rn(y, y, s[q]);  // zeros add +0
    }
  const double norm2 = bucket_tree(s, T.warp_sums);

  const int bits = L.bits;
  uint8_t* dst = out + 4 * L.nb + j * L.packed;
  const bool bad = !isfinite(norm2);
  float scale = 0.0f;
  if (bad || !(norm2 > 0.0)) {  // uniform: every thread has the same norm2
    if (bad) scale = __uint_as_float(0x7fc00000u);  // NAN, as the CPU writes it; codes 0
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t c = k * kTeam + t;
      bitpack::store_chunk_codes<FULL>(dst, 0u, c, FULL ? 4 : bitpack::chunk_count(c, len), len, t, bits);
    }
  } else {
    const float inv_sigma = __double2float_rn(__dsqrt_rn(__ddiv_rn(static_cast<double>(len), norm2)));
    double d[4] = {0.0, 0.0, 0.0, 0.0};
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t c = k * kTeam + t;
      const int cnt = FULL ? 4 : bitpack::chunk_count(c, len);
      uint32_t acc = 0;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (FULL || q < cnt) {
          const uint32_t code = nearest_code(__fmul_rn(val[k][q], inv_sigma), T, L);
          d[q] = __fma_rn(static_cast<double>(val[k][q]), T.lev[code], d[q]);
          acc += code * L.pm.mul[q];
        }
      }
      bitpack::store_chunk_codes<FULL>(dst, acc, c, cnt, len, t, bits);
    }
    const double dot = bucket_tree(d, T.warp_sums);
    scale = dot > 0.0 ? __double2float_rn(__ddiv_rn(norm2, dot)) : 0.0f;
  }
  if (t == 0) {
    devutil::store_bytes(out + 4 * j, __float_as_uint(scale), 4);
    if (bad && nonfinite) *nonfinite = 1;
  }
}

struct NoStatsAdd {
  __device__ __forceinline__ void add(float) {}
};

// The levels encode (EdenLevels::encode on rotated values): CUDA block b
// encodes buckets b, b + grid, ... (the tables are filled once per block). The
// register cap lets two 512-thread blocks share an SM, so that one's loads
// overlap the other's sums. The code width stays a runtime value: the only
// per-width work left is the packing (compiled-in widths were not tried again
// since the search became a table lookup; the binary search spilled with them).
__global__ void __launch_bounds__(kTeam, kEncodeBlocksPerSm)
    encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, EdenLayout L, int* __restrict__ nonfinite) {
  __shared__ EncodeTables T;
  load_tables(T, L);
  for (uint64_t j = blockIdx.x; j < L.nb; j += gridDim.x) {
    const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
    const float* v = x + j * L.bucket;
    float val[kEncodeChunks][4];
    NoStatsAdd none;
    if (len == eden::kBucket) {
      bucketq::load_bucket<kTeam, kEncodeChunks, true>(v, len, L, threadIdx.x, val, none);
      encode_values<true>(val, out, L, T, nonfinite, j, len);
    } else {
      bucketq::load_bucket<kTeam, kEncodeChunks, false>(v, len, L, threadIdx.x, val, none);
      encode_values<false>(val, out, L, T, nonfinite, j, len);
    }
  }
}

// The fused encode (eden_device.h): CUDA block b rotates buckets b, b + grid,
// ... of the padded vector x in shared memory (compressors/common/
// hadamard_block.cuh, the bits of hadamard::rotate) and encodes each from there:
// x is read once, only the payload written.
template <bool VEC>
__global__ void __launch_bounds__(kTeam, kEncodeBlocksPerSm)
    fused_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, EdenLayout L, uint64_t key,
                 float full_scale, float tail_scale, int* __restrict__ nonfinite) {
  extern __shared__ float4 smem4[];
  float* sm = reinterpret_cast<float*>(smem4);
  __shared__ EncodeTables T;
  load_tables(T, L);
  const uint32_t t = threadIdx.x;
  for (uint64_t j = blockIdx.x; j < L.nb; j += gridDim.x) {
    const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
    const float* v = x + j * L.bucket;
    float val[kEncodeChunks][4];
    if (len == eden::kBucket) {
      hadamard::blk::p1_to_p3<true, VEC>(v, sm, key, static_cast<uint32_t>((j * L.bucket) >> 5));
      hadamard::blk::p4_in_place(sm, full_scale);
#pragma unroll
      for (int k = 0; k < kEncodeChunks; ++k) {
        const float4 a = *reinterpret_cast<const float4*>(sm + hadamard::blk::swz(4u * (k * kTeam + t)));
        val[k][0] = a.x, val[k][1] = a.y, val[k][2] = a.z, val[k][3] = a.w;
      }
      encode_values<true>(val, out, L, T, nonfinite, j, len);
    } else {  // the padded vector's last block: a power of two under 16 Ki
      hadamard::blk::rotate_small_in_smem(v, j * L.bucket, len, key, tail_scale, sm);
#pragma unroll
      for (int k = 0; k < kEncodeChunks; ++k) {
        const uint32_t e = 4u * (k * kTeam + t);
#pragma unroll
        for (int q = 0; q < 4; ++q) val[k][q] = e + q < len ? sm[hadamard::blk::swz(e + q)] : 0.0f;
      }
      encode_values<false>(val, out, L, T, nonfinite, j, len);
    }
    // encode_values passed a barrier after the last read of sm: the next bucket may overwrite it.
  }
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

unsigned encode_grid(uint64_t nb) {
  const uint64_t cap = static_cast<uint64_t>(devutil::sm_count()) * kEncodeBlocksPerSm;
  return static_cast<unsigned>(nb < cap ? nb : cap);
}

// The host side of common/bucket_device.cuh.
class EdenLaunch {
 public:
  explicit EdenLaunch(const EdenLevels& c) : c_(c), base_(base_layout(c)) {}

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
    encode_kernel<<<encode_grid(L.nb), kTeam, 0, s>>>(x, out, L, nf);
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

// One codec and its device layout per width, made on first use (thread-safe).
const EdenLaunch& launch_of(int bits) {
  static std::unique_ptr<EdenLevels> codecs[9];
  static std::unique_ptr<EdenLaunch> launches[9];
  static std::once_flag once[9];
  std::call_once(once[bits], [&] {
    codecs[bits] = std::make_unique<EdenLevels>(bits);
    launches[bits] = std::make_unique<EdenLaunch>(*codecs[bits]);
  });
  return *launches[bits];
}

template <bool VEC>
void launch_fused(const float* x, uint8_t* out, const EdenLayout& L, uint64_t key, float tail_scale, int* nf,
                  cudaStream_t s) {
  constexpr int kSmem = static_cast<int>(hadamard::kMaxBlock * sizeof(float));
  auto kernel = fused_kernel<VEC>;
  // Cheap host calls (no sync), as hadamard_device.cu's: 64 KiB is above the
  // default 48 KiB per block, and the largest carveout lets two blocks share an SM.
  devutil::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
                 "cudaFuncSetAttribute (eden fused)");
  devutil::check(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                      cudaSharedmemCarveoutMaxShared),
                 "cudaFuncSetAttribute (eden fused)");
  kernel<<<encode_grid(L.nb), kTeam, kSmem, s>>>(x, out, L, key, hadamard::block_scale(hadamard::kMaxBlock),
                                                 tail_scale, nf);
}

}  // namespace

// The twin of the levels codec only; the round scheme has none (see the top).
std::unique_ptr<DeviceCompressor> make_device_eden(const Compressor& c) {
  const auto* e = dynamic_cast<const EdenLevels*>(&c);
  if (!e) return nullptr;
  return std::make_unique<bucketq::BucketDevice<EdenLaunch>>(*e, EdenLaunch(*e));
}

namespace eden {

size_t device_encode_rotated(const float* d_x, size_t n, int bits, uint64_t rotation_key, uint8_t* d_out,
                             int* d_nonfinite, void* stream) {
  GW_REQUIRE(bits >= 1 && bits <= 8, GW_ERR_INVALID_ARGUMENT, "eden: bits=", bits, " (1..8)");
  GW_REQUIRE(n == hadamard::padded_count(n), GW_ERR_INVALID_ARGUMENT, "eden: ", n,
             " values is not a padded count (hadamard::padded_count)");
  const EdenLaunch& launch = launch_of(bits);
  if (n == 0) return 0;
  const EdenLayout L = launch.layout(n);
  const uint32_t tail = L.last_len == eden::kBucket ? 0 : L.last_len;
  const float tail_scale = tail > 1 ? hadamard::block_scale(tail) : 1.0f;
  const cudaStream_t s = devutil::as_stream(stream);
  if (devutil::aligned(d_x, 16))
    launch_fused<true>(d_x, d_out, L, rotation_key, tail_scale, d_nonfinite, s);
  else
    launch_fused<false>(d_x, d_out, L, rotation_key, tail_scale, d_nonfinite, s);
  devutil::check_launch("eden fused encode");
  return launch.total_bytes(n);
}

}  // namespace eden
}  // namespace gw
