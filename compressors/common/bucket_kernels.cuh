// The CUDA kernels of the bucket quantizers' twins (maxmin.cu, qsgd.cu), written
// once: the team-per-bucket mapping of bitpack.cuh (which team and bucket a
// thread has, the full-bucket test), the load loop of the encode, the decode
// (unpack, dequantize, store), and the launch configuration and compile-time
// dispatch. Each codec keeps its own math in a Quant type; it is a template
// argument, so every call into it is inlined where it stands (no virtual or
// indirect calls) and the kernels compile to what each codec's own kernels did.
// The encode's per-bucket body (reductions, header, quantize and pack) stays the
// codec's: written here with per-code hooks it compiled to different code (other
// register use, spills in some qsgd kernels), so it is not shared.
//
// Quant supplies (device functions __forceinline__):
//   Layout         the codec's device layout (set_geometry's fields plus its own)
//   kHeaderBytes   bytes of per-bucket header, all headers first
//   encode_bucket<W, K, BITS, FULL>(v, out, L, key, nonfinite, j, len, t, valid)
//   decode_params(header, L) -> P, decode_one(code, P, L, bits) -> float
// Header-only (nvcc): compressors/*/*.cu globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "compressors/common/bitpack.cuh"
#include "src/core/device_util.cuh"

namespace gw {
namespace bucketq {

using bitpack::block_threads;
using bitpack::chunk_count;
using bitpack::grid_of;
using bitpack::kChunksPerThread;

// Sets the fields bitpack.cuh and these kernels read; vec is set per call (see
// vec_ok), the codec's own fields by the codec.
template <class Layout>
void set_geometry(Layout& L, int bits, size_t bucket, size_t packed, size_t n) {
  L.bits = bits;
  L.bucket = static_cast<uint32_t>(bucket);
  L.packed = static_cast<uint32_t>(packed);
  L.nb = (n + L.bucket - 1) / L.bucket;
  L.last_len = static_cast<uint32_t>(n - (L.nb - 1) * L.bucket);
  L.pm = bitpack::pack_multipliers(bits);
  L.vec = 0;
}

// Whether the float buffer p of layout L allows 16-byte accesses (L.vec).
template <class Layout>
int vec_ok(const Layout& L, const void* p) {
  return (L.bucket % 4 == 0 && devutil::aligned(p, 16)) ? 1 : 0;
}

// Loads thread t's K chunks of the bucket v (len values) into val, x read once
// into registers, and feeds each value to st.add(); returns the thread's
// non-finite chain (see bitpack::fold_nonfinite). FULL: len is 4*K*W.
template <int W, int K, bool FULL, class Layout, class Stats>
__device__ __forceinline__ float load_bucket(const float* __restrict__ v, uint32_t len, const Layout& L, uint32_t t,
                                             float (&val)[K][4], Stats& st) {
  float nf = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int c = bitpack::load_chunk<FULL>(v, k * W + t, len, L, val[k]);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (FULL || q < c) {
        st.add(val[k][q]);
        nf = __fmaf_rn(val[k][q], 0.0f, nf);  // NaN once some value is NaN or +-Inf
      }
    }
  }
  return nf;
}

// K chunks of 4 values per thread (bitpack::team_width(bucket, K) gives W).
template <class Quant, int W, int K, int BITS>
__global__ void __launch_bounds__(block_threads<W>(), bitpack::encode_min_blocks<W>())
    encode_kernel(const float* __restrict__ x, uint8_t* __restrict__ out, typename Quant::Layout L, uint64_t key,
                  int* __restrict__ nonfinite) {
  constexpr int TPB = block_threads<W>();
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  const bool valid = j < L.nb;
  const uint32_t len = !valid ? 0u : (j + 1 == L.nb ? L.last_len : L.bucket);
  // Full: every chunk of every thread holds 4 values. Uniform across the warp
  // except where a warp holds the last bucket (then all its teams take the
  // general path, which is always correct).
  const bool full = __all_sync(0xffffffffu, len == 4u * K * W);
  if (full) {
    Quant::template encode_bucket<W, K, BITS, true>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  } else {
    Quant::template encode_bucket<W, K, BITS, false>(x + j * L.bucket, out, L, key, nonfinite, j, len, t, valid);
  }
}

// kChunksPerThread chunks per thread; one coalesced 16-byte store per whole chunk.
template <class Quant, int W, bool ADD>
__global__ void __launch_bounds__(block_threads<W>())
    decode_kernel(const uint8_t* __restrict__ in, float* __restrict__ out, typename Quant::Layout L) {
  constexpr int K = kChunksPerThread;
  constexpr int TPB = block_threads<W>();
  constexpr int HB = Quant::kHeaderBytes;
  const uint32_t t = threadIdx.x % W;
  const uint64_t j = static_cast<uint64_t>(blockIdx.x) * (TPB / W) + threadIdx.x / W;
  if (j >= L.nb) return;
  const uint32_t len = j + 1 == L.nb ? L.last_len : L.bucket;
  const auto p = Quant::decode_params(devutil::load_bytes(in + HB * j, HB), L);
  const uint8_t* src = in + HB * L.nb + j * L.packed;
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
    for (int q = 0; q < 4; ++q) r[q] = Quant::decode_one((acc >> (q * bits)) & mask, p, L, bits);
    bitpack::store_chunk<ADD>(o, c, r, cnt, L);
  }
}

// Host launches: one team of W threads per bucket (bitpack.cuh's blocks), bit
// widths 4 and 8 compiled in.
template <class Quant, int W, int K>
void launch_encode(const float* x, uint8_t* out, const typename Quant::Layout& L, uint64_t key, int* nf,
                   cudaStream_t s) {
  const unsigned g = grid_of<W>(L.nb);
  constexpr int B = block_threads<W>();
  if (L.bits == 4) {
    encode_kernel<Quant, W, K, 4><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else if (L.bits == 8) {
    encode_kernel<Quant, W, K, 8><<<g, B, 0, s>>>(x, out, L, key, nf);
  } else {
    encode_kernel<Quant, W, K, 0><<<g, B, 0, s>>>(x, out, L, key, nf);
  }
}

template <class Quant, int W>
void launch_decode(const uint8_t* in, float* out, const typename Quant::Layout& L, bool add, cudaStream_t s) {
  const unsigned g = grid_of<W>(L.nb);
  constexpr int B = block_threads<W>();
  if (add)
    decode_kernel<Quant, W, true><<<g, B, 0, s>>>(in, out, L);
  else
    decode_kernel<Quant, W, false><<<g, B, 0, s>>>(in, out, L);
}

}  // namespace bucketq
}  // namespace gw
