// CUDA twin of topk (topk.h): the payload of index=raw, byte-identical to the
// CPU codec's (`topk:...,index=raw`; with index=auto the CPU writes the smallest
// index coding, so its bytes differ but decode the same), selection as the CPU's
// (topk_select.cuh: exact radix select, or DGC's sampled threshold with the
// exact select among the survivors), and fused error feedback.
//
// Encode, exact mode: three histogram passes find the k-th largest magnitude t
// and the ties to keep; a count pass and a scan give each tile its output
// offset; the write pass places the kept indices and values in index order and
// updates the feedback state in the same pass. Sample mode: gather ~1% of the
// keys at the CPU's sample positions, select the 1.1k-ratio threshold among them,
// count and compact the survivors (value bits, index) in index order, then the
// exact select among the survivors; when fewer than k (or more than 4k + 1024)
// survive, a device flag opens the exact path instead (its kernels are always
// launched and return at once when closed: no host sync).
//
// Decode reads raw payloads only: their header and indices are in device
// memory, so they are checked there (format, k, section size; each index below
// n and above its predecessor) and a bad one is skipped, never written, and
// reported through decode_checked's flag. Varint / bitmap payloads from a CPU
// peer are converted to raw on the host by the device DataOps, where the
// payload still is (algo/device_ops.cu).
//
// Scratch (grow-only, sized for the largest n seen) belongs to the twin: one
// twin must not encode on two streams at once (the device DataOps own theirs).
#include <algorithm>
#include <memory>

#include "src/common/error.h"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/topk/index_coding.h"
#include "compressors/topk/topk.h"
#include "compressors/topk/topk_select.cuh"

namespace gw {
namespace {

using namespace topk_gpu;

struct NoEf {
  __device__ __forceinline__ void full(size_t, float, bool) const {}
  __device__ __forceinline__ void survivor(size_t, float) const {}
  __device__ __forceinline__ void cand(uint32_t, float) const {}
};
// kResidual: s = x - D(C(x)): 0 where kept, x elsewhere (CPU: s += g; s[kept] = 0).
struct ResEf {
  float* s;
  __device__ __forceinline__ void full(size_t i, float v, bool sel) const { s[i] = sel ? 0.0f : v; }
  __device__ __forceinline__ void survivor(size_t i, float v) const { s[i] = v; }
  __device__ __forceinline__ void cand(uint32_t i, float) const { s[i] = 0.0f; }
};
// kEf21: s += D(C(x)): s[kept] += x.
struct Ef21Ef {
  float* s;
  __device__ __forceinline__ void full(size_t i, float v, bool sel) const {
    if (sel) s[i] = __fadd_rn(s[i], v);
  }
  __device__ __forceinline__ void survivor(size_t, float) const {}
  __device__ __forceinline__ void cand(uint32_t i, float v) const { s[i] = __fadd_rn(s[i], v); }
};

__device__ __forceinline__ void write_header(uint8_t* out, uint32_t k) {
  devutil::store_bytes(out, static_cast<uint32_t>(topk::IndexFormat::kRaw), 4);  // format, 3 zero bytes
  devutil::store_bytes(out + 4, k, 4);
  devutil::store_bytes(out + 8, 4ull * k, 4);
}

__global__ void header_kernel(uint8_t* out, uint32_t k) { write_header(out, k); }

// Shared by the two final writers: the kept item of a tile round at its
// output position, with the non-finite check.
__device__ __forceinline__ void put(uint8_t* out, uint32_t k, uint32_t pos, uint32_t index, float v, int& bad) {
  devutil::store_bytes(out + kTopkHeaderBytes + 4ull * pos, index, 4);
  devutil::store_bytes(out + kTopkHeaderBytes + 4ull * k + 4ull * pos, __float_as_uint(v), 4);
  bad |= mag(v) >= 0x7f800000u;
}

// The exact path's write pass over all n values (see topk_select.cuh).
template <class Src, class Ef>
__global__ void __launch_bounds__(kThreads)
    exact_write_kernel(Src src, size_t n, const Radix* R, const uint64_t* offs, uint32_t tiles, uint8_t* out,
                       uint32_t k, int* nonfinite, Ef ef, Gate gate) {
  if (!gate.open()) return;
  __shared__ TileScan sm;
  const uint32_t t = R->prefix, ties = R->need;
  if (blockIdx.x == 0 && threadIdx.x == 0) write_header(out, k);
  int bad = 0;
  for (uint32_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const size_t base = static_cast<size_t>(tile) * kTile;
    const uint64_t off = offs[tile];
    uint32_t gtb = static_cast<uint32_t>(off >> 32), eqb = static_cast<uint32_t>(off);
    float v[kItems];
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      v[r] = i < n ? src(i) : 0.0f;
    }
    bool gt[kItems], eq[kItems];
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      const uint32_t key = mag(v[r]);
      gt[r] = i < n && key > t;
      eq[r] = i < n && key == t;
    }
    uint32_t pg[kItems], pe[kItems], tg, te;
    tile_prefix2(gt, eq, sm, pg, pe, tg, te);
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      const uint32_t e = eqb + pe[r];
      const bool sel = gt[r] || (eq[r] && e < ties);
      if (sel) put(out, k, gtb + pg[r] + min(e, ties), static_cast<uint32_t>(i), v[r], bad);
      if (i < n) ef.full(i, v[r], sel);
    }
  }
  if (bad && nonfinite) *nonfinite = 1;
}

// Sample path: compacts the values at or above the sampled threshold R->prefix,
// (bits, index) in index order, when their number is in [k, cap]; sets *ok.
template <class Src, class Ef>
__global__ void __launch_bounds__(kThreads)
    survivor_write_kernel(Src src, size_t n, const Radix* R, const uint64_t* offs, uint32_t tiles,
                          const uint64_t* total, uint32_t k, uint32_t cap, uint2* cand, int* ok_flag,
                          uint32_t* cand_count, Ef ef) {
  __shared__ TileScan sm;
  const uint64_t tot = *total;
  const bool ok = tot >= k && tot <= cap;
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    *ok_flag = ok ? 1 : 0;
    *cand_count = ok ? static_cast<uint32_t>(tot) : 0u;
  }
  if (!ok) return;
  const uint32_t t = R->prefix;
  for (uint32_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const size_t base = static_cast<size_t>(tile) * kTile;
    uint32_t at = static_cast<uint32_t>(offs[tile]);
    float v[kItems];
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      v[r] = i < n ? src(i) : 0.0f;
    }
    bool ge[kItems], none[kItems];
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      ge[r] = i < n && mag(v[r]) >= t;
      none[r] = false;
    }
    // Most tiles of a 1% threshold hold few survivors: a barrier count skips
    // the ordered placement of an empty tile.
    int any = 0;
#pragma unroll
    for (int r = 0; r < kItems; ++r) any |= ge[r];
    if (__syncthreads_or(any)) {
      uint32_t pa[kItems], pb[kItems], ta, tb;
      tile_prefix2(ge, none, sm, pa, pb, ta, tb);
#pragma unroll
      for (int r = 0; r < kItems; ++r)
        if (ge[r]) cand[at + pa[r]] = make_uint2(__float_as_uint(v[r]), static_cast<uint32_t>(base + r * kThreads + threadIdx.x));
    }
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      if (i < n) ef.survivor(i, v[r]);
    }
  }
}

// Sample path, last step: the exact top-k among the survivors (threshold R).
template <class Ef>
__global__ void __launch_bounds__(kThreads)
    cand_write_kernel(const uint2* cand, const uint32_t* cand_count, const Radix* R, const uint64_t* offs,
                      uint32_t tiles, uint8_t* out, uint32_t k, int* nonfinite, Ef ef, Gate gate) {
  if (!gate.open()) return;
  __shared__ TileScan sm;
  const size_t n = *cand_count;
  const uint32_t t = R->prefix, ties = R->need;
  if (blockIdx.x == 0 && threadIdx.x == 0) write_header(out, k);
  int bad = 0;
  for (uint32_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const size_t base = static_cast<size_t>(tile) * kTile;
    const uint64_t off = offs[tile];
    uint32_t gtb = static_cast<uint32_t>(off >> 32), eqb = static_cast<uint32_t>(off);
    uint2 c[kItems];
    bool gt[kItems], eq[kItems];
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const size_t i = base + static_cast<size_t>(r) * kThreads + threadIdx.x;
      c[r] = i < n ? cand[i] : make_uint2(0u, 0u);
      const uint32_t key = c[r].x & 0x7fffffffu;
      gt[r] = i < n && key > t;
      eq[r] = i < n && key == t;
    }
    uint32_t pg[kItems], pe[kItems], tg, te;
    tile_prefix2(gt, eq, sm, pg, pe, tg, te);
#pragma unroll
    for (int r = 0; r < kItems; ++r) {
      const uint32_t e = eqb + pe[r];
      if (gt[r] || (eq[r] && e < ties)) {
        const float v = __uint_as_float(c[r].x);
        put(out, k, gtb + pg[r] + min(e, ties), c[r].y, v, bad);
        ef.cand(c[r].y, v);
      }
    }
  }
  if (bad && nonfinite) *nonfinite = 1;
}

// Raw payloads only (checked on the device, see the top of the file).
__global__ void decode_kernel(const uint8_t* __restrict__ in, uint32_t k, size_t n, float* __restrict__ out,
                              int add, int* corrupt) {
  const uint32_t fmt = static_cast<uint32_t>(devutil::load_bytes(in, 1));
  const uint32_t kk = static_cast<uint32_t>(devutil::load_bytes(in + 4, 4));
  const uint32_t section = static_cast<uint32_t>(devutil::load_bytes(in + 8, 4));
  const bool header_ok = fmt == static_cast<uint32_t>(topk::IndexFormat::kRaw) && kk == k &&
                         section == static_cast<uint32_t>(4ull * k);
  const uint8_t* idx = in + kTopkHeaderBytes;
  const uint8_t* vals = idx + 4ull * k;
  for (size_t j = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < k;
       j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    if (!header_ok) {
      if (j == 0 && corrupt) *corrupt = 1;
      return;
    }
    const uint64_t i = devutil::load_bytes(idx + 4 * j, 4);
    const bool ok = i < n && (j == 0 || i > devutil::load_bytes(idx + 4 * (j - 1), 4));
    if (!ok) {
      if (corrupt) *corrupt = 1;
      continue;
    }
    const float v = __uint_as_float(static_cast<uint32_t>(devutil::load_bytes(vals + 4 * j, 4)));
    out[i] = add ? __fadd_rn(out[i], v) : v;
  }
}

size_t tiles_of(size_t n) { return (n + kTile - 1) / kTile; }

class TopkDevice final : public DeviceCompressor {
 public:
  explicit TopkDevice(const TopkCompressor& c) : c_(c) {}
  ~TopkDevice() override { cudaFree(base_); }
  const Compressor& host() const override { return c_; }

  size_t encode(const float* d_x, size_t n, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite,
                void* stream) const override {
    return run(XSrc{d_x}, NoEf{}, n, d_out, rng_key, d_nonfinite, devutil::as_stream(stream));
  }

  size_t feedback_scratch_bytes(size_t, Feedback) const override { return 0; }  // fused: x is never written

  size_t encode_feedback(const float* d_g, float* d_s, size_t n, Feedback mode, uint8_t* d_out, uint64_t rng_key,
                         int* d_nonfinite, void* stream, void*) const override {
    cudaStream_t s = devutil::as_stream(stream);
    if (mode == Feedback::kResidual) return run(ResSrc{d_g, d_s}, ResEf{d_s}, n, d_out, rng_key, d_nonfinite, s);
    if (mode == Feedback::kEf21) return run(Ef21Src{d_g, d_s}, Ef21Ef{d_s}, n, d_out, rng_key, d_nonfinite, s);
    return encode(d_g, n, d_out, rng_key, d_nonfinite, stream);
  }

  void decode(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, void* stream) const override {
    decode_checked(d_in, bytes, n, d_out, false, nullptr, stream);
  }
  void decode_add(const uint8_t* d_in, size_t bytes, size_t n, float* d_acc, void* stream) const override {
    decode_checked(d_in, bytes, n, d_acc, true, nullptr, stream);
  }

  void decode_checked(const uint8_t* d_in, size_t bytes, size_t n, float* d_out, bool add, int* d_corrupt,
                      void* stream) const override {
    const size_t want = c_.encoded_bytes(n);
    if (bytes != want) {
      // Shorter payloads can be valid varint / bitmap ones, which only the host
      // decodes (the device DataOps convert them to raw before they get here).
      GW_REQUIRE(bytes < kTopkHeaderBytes || bytes > want, GW_ERR_UNSUPPORTED, c_.spec(),
                 " (GPU): payload of ", bytes, " bytes for ", n, " values is not index=raw (", want,
                 " bytes); the GPU decoder reads raw payloads only, convert others on the host");
      fail(GW_ERR_CORRUPT, c_.spec(), " (GPU): payload of ", bytes, " bytes for ", n, " values (want ", want, ")");
    }
    cudaStream_t s = devutil::as_stream(stream);
    if (!add && n) devutil::check(cudaMemsetAsync(d_out, 0, n * sizeof(float), s), "topk decode (zero)");
    const size_t k = c_.k(n);
    if (k == 0) return;
    decode_kernel<<<devutil::grid_for(k, 256), 256, 0, s>>>(d_in, static_cast<uint32_t>(k), n, d_out, add ? 1 : 0,
                                                             d_corrupt);
    devutil::check_launch(add ? "topk decode_add" : "topk decode");
  }

 private:
  // Device scratch, one allocation carved into these (sized for n_cap_).
  struct Scratch {
    Radix* radix = nullptr;  // [0] sample threshold, [1] survivors, [2] exact path
    int* ok = nullptr;
    uint32_t* cand_count = nullptr;
    uint64_t* total = nullptr;
    uint64_t* tile_counts = nullptr;
    uint64_t* tile_offs = nullptr;
    uint32_t* keys = nullptr;
    uint2* cand = nullptr;
  };

  static size_t sample_size(size_t n) { return std::min(n, std::max<size_t>(n / 100, 1024)); }
  size_t cand_cap(size_t n) const { return std::min(n, 4 * c_.k(n) + 1024); }  // topk_select.inc's cap

  void ensure(size_t n, cudaStream_t s) const {
    if (n <= n_cap_ && base_) return;
    cudaFree(base_);  // waits for the device: nothing still uses the old scratch
    base_ = nullptr;
    n_cap_ = 0;
    const size_t tiles = std::max(tiles_of(n), tiles_of(cand_cap(n)));
    size_t at = 0;
    auto take = [&](size_t bytes) {
      const size_t a = at;
      at += (bytes + 255) & ~size_t{255};
      return a;
    };
    const size_t o_radix = take(3 * sizeof(Radix)), o_ok = take(sizeof(int)), o_cc = take(sizeof(uint32_t)),
                 o_total = take(sizeof(uint64_t)), o_tc = take(tiles * 8), o_to = take(tiles * 8),
                 o_keys = take(sample_size(n) * 4), o_cand = take(cand_cap(n) * sizeof(uint2));
    void* p = nullptr;
    devutil::check(cudaMalloc(&p, at), "topk scratch");
    base_ = static_cast<uint8_t*>(p);
    sc_.radix = reinterpret_cast<Radix*>(base_ + o_radix);
    sc_.ok = reinterpret_cast<int*>(base_ + o_ok);
    sc_.cand_count = reinterpret_cast<uint32_t*>(base_ + o_cc);
    sc_.total = reinterpret_cast<uint64_t*>(base_ + o_total);
    sc_.tile_counts = reinterpret_cast<uint64_t*>(base_ + o_tc);
    sc_.tile_offs = reinterpret_cast<uint64_t*>(base_ + o_to);
    sc_.keys = reinterpret_cast<uint32_t*>(base_ + o_keys);
    sc_.cand = reinterpret_cast<uint2*>(base_ + o_cand);
    // The histograms start zero; every pass leaves them zero (radix_pick).
    devutil::check(cudaMemsetAsync(sc_.radix, 0, 3 * sizeof(Radix), s), "topk scratch (zero)");
    n_cap_ = n;
  }

  static unsigned grid(size_t tiles) { return devutil::grid_for(tiles, 1, 4); }

  // The three radix passes: R->prefix = the k0-th largest key of src[0..count).
  template <class Src>
  static void select3(const Src& src, Count count, size_t tiles, Radix* R, uint32_t k0, Gate gate, cudaStream_t s) {
    for (int pass = 0; pass < 3; ++pass)
      radix_hist_kernel<<<grid(tiles), kThreads, 0, s>>>(src, count, R, pass, k0, gate);
  }

  template <class Src>
  void count_scan(const Src& src, Count count, size_t tiles, const Radix* R, bool ge, Gate gate,
                  cudaStream_t s) const {
    if (ge)
      tile_count_kernel<Src, true><<<grid(tiles), kThreads, 0, s>>>(src, count, R, sc_.tile_counts,
                                                                      static_cast<uint32_t>(tiles), gate);
    else
      tile_count_kernel<Src, false><<<grid(tiles), kThreads, 0, s>>>(src, count, R, sc_.tile_counts,
                                                                       static_cast<uint32_t>(tiles), gate);
    scan_kernel<<<1, kScanThreads, 0, s>>>(sc_.tile_counts, sc_.tile_offs, static_cast<uint32_t>(tiles), sc_.total,
                                           gate);
  }

  template <class Src, class Ef>
  size_t run(Src src, Ef ef, size_t n, uint8_t* out, uint64_t key, int* nf, cudaStream_t s) const {
    GW_REQUIRE(n < (uint64_t(1) << 32), GW_ERR_INVALID_ARGUMENT, c_.spec(), ": a layer of ", n,
               " values is too long (indices are 32-bit)");
    const size_t bytes = c_.encoded_bytes(n);
    const uint32_t k = static_cast<uint32_t>(c_.k(n));
    if (n == 0) {
      header_kernel<<<1, 1, 0, s>>>(out, 0);
      devutil::check_launch("topk encode (header)");
      return bytes;
    }
    ensure(n, s);
    const size_t tiles = tiles_of(n);
    Gate exact_gate;  // open
    if (c_.select_mode() == topk::Select::kSample) {
      // The CPU's sample size and target rank (topk_select.inc), so both look
      // at the same threshold (the result is the exact top-k either way).
      const size_t m = sample_size(n);
      const size_t target = std::min(
          m, std::max<size_t>(1, static_cast<size_t>(1.1 * static_cast<double>(k) * m / n + 0.5)));
      const size_t cap = cand_cap(n), ctiles = tiles_of(cap);
      sample_kernel<<<devutil::grid_for(m, 256), 256, 0, s>>>(src, n, key, m, sc_.keys);
      select3(KeySrc{sc_.keys}, Count{m, nullptr}, tiles_of(m), &sc_.radix[0], static_cast<uint32_t>(target),
              Gate{}, s);
      count_scan(src, Count{n, nullptr}, tiles, &sc_.radix[0], true, Gate{}, s);
      survivor_write_kernel<<<grid(tiles), kThreads, 0, s>>>(src, n, &sc_.radix[0], sc_.tile_offs,
                                                             static_cast<uint32_t>(tiles), sc_.total, k,
                                                             static_cast<uint32_t>(cap), sc_.cand, sc_.ok,
                                                             sc_.cand_count, ef);
      const Gate sampled{sc_.ok, 1};
      const CandSrc cs{sc_.cand};
      const Count cc{cap, sc_.cand_count};
      select3(cs, cc, ctiles, &sc_.radix[1], k, sampled, s);
      count_scan(cs, cc, ctiles, &sc_.radix[1], false, sampled, s);
      cand_write_kernel<<<grid(ctiles), kThreads, 0, s>>>(sc_.cand, sc_.cand_count, &sc_.radix[1], sc_.tile_offs,
                                                          static_cast<uint32_t>(ctiles), out, k, nf, ef, sampled);
      exact_gate = Gate{sc_.ok, 0};  // the exact path only when the sample fell short
    }
    select3(src, Count{n, nullptr}, tiles, &sc_.radix[2], k, exact_gate, s);
    count_scan(src, Count{n, nullptr}, tiles, &sc_.radix[2], false, exact_gate, s);
    exact_write_kernel<<<grid(tiles), kThreads, 0, s>>>(src, n, &sc_.radix[2], sc_.tile_offs,
                                                        static_cast<uint32_t>(tiles), out, k, nf, ef, exact_gate);
    devutil::check_launch("topk encode");
    return bytes;
  }

  const TopkCompressor& c_;
  mutable uint8_t* base_ = nullptr;
  mutable size_t n_cap_ = 0;
  mutable Scratch sc_;
};

}  // namespace

std::unique_ptr<DeviceCompressor> make_device_topk(const Compressor& c) {
  const auto* t = dynamic_cast<const TopkCompressor*>(&c);
  if (!t) return nullptr;
  return std::make_unique<TopkDevice>(*t);
}

}  // namespace gw
