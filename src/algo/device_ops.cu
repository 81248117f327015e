// DataOps for device data: the CUDA twins run on the caller's stream; payloads
// go device -> pinned host after encoding and host -> device before decoding,
// so only compressed bytes cross PCIe. Two host synchronizations per exchange
// (encoded payload ready to send; received payloads copied in) are inherent to
// a host transport; the NCCL transport will not need them.
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "src/algo/data_ops.h"
#include "src/algo/device_kernels.cuh"
#include "src/core/device_compressor.h"
#include "src/core/device_util.cuh"
#include "compressors/topk/index_coding.h"
#include "compressors/topk/topk.h"

namespace gw {

// ---- the generic device error-feedback path (core/device_compressor.h) ----
// Same float operations as Compressor::encode_feedback (core/compressor.cpp):
// x = g + s (kResidual) or g + (-1 * s) == g - s (kEf21); then s = x - d or
// s += d with d = D(C(x)).
namespace {
__global__ void feedback_combine_kernel(const float* __restrict__ g, const float* __restrict__ s,
                                        float* __restrict__ x, size_t n, int ef21) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = ef21 ? __fsub_rn(g[i], s[i]) : __fadd_rn(g[i], s[i]);
}
__global__ void feedback_update_kernel(float* __restrict__ s, const float* __restrict__ x,
                                       const float* __restrict__ d, size_t n, int ef21) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    s[i] = ef21 ? __fadd_rn(s[i], d[i]) : __fsub_rn(x[i], d[i]);
}
}  // namespace

size_t device_feedback_generic(const DeviceCompressor& c, const float* d_g, float* d_state, size_t n,
                               Feedback mode, uint8_t* d_out, uint64_t rng_key, int* d_nonfinite, void* stream,
                               void* d_scratch) {
  if (mode == Feedback::kNone) return c.encode(d_g, n, d_out, rng_key, d_nonfinite, stream);
  GW_REQUIRE(d_scratch || n == 0, GW_ERR_INVALID_ARGUMENT, c.host().spec(),
             ": device error feedback needs feedback_scratch_bytes(n) of scratch");
  cudaStream_t s = devutil::as_stream(stream);
  const int ef21 = mode == Feedback::kEf21;
  float* x = static_cast<float*>(d_scratch);
  float* d = x + n;
  const unsigned grid = devutil::grid_for(n, 1024, 4);
  if (n) feedback_combine_kernel<<<grid, 256, 0, s>>>(d_g, d_state, x, n, ef21);
  devutil::check_launch("feedback combine");
  const size_t bytes = c.encode(x, n, d_out, rng_key, d_nonfinite, stream);
  c.decode(d_out, bytes, n, d, stream);
  if (n) feedback_update_kernel<<<grid, 256, 0, s>>>(d_state, x, d, n, ef21);
  devutil::check_launch("feedback update");
  return bytes;
}

namespace {

constexpr size_t kAlign = 256;
size_t round_up(size_t x) { return (x + kAlign - 1) & ~(kAlign - 1); }

class DeviceOps final : public DataOps {
 public:
  // Every call ends with its work complete (finish_* synchronize), and
  // cudaFree waits for the device anyway: the caller's stream, which may be
  // gone by now, is never touched outside a call.
  ~DeviceOps() override {
    cudaFree(d_enc_);
    cudaFree(d_dec_);
    cudaFree(d_flag_);
    cudaFree(d_corrupt_);
    cudaFree(d_fb_);
    cudaFree(d_conv_);
  }

  bool prepare(const std::vector<const Compressor*>& codecs, void* stream, size_t encode_bytes,
               size_t decode_bytes) override {
    for (const Compressor* c : codecs) {
      if (twins_.count(c)) continue;
      std::unique_ptr<DeviceCompressor> twin = make_device_compressor(*c);
      if (!twin) return false;
      twins_[c] = std::move(twin);
    }
    stream_ = devutil::as_stream(stream);
    grow(&d_enc_, &enc_cap_, round_up(encode_bytes) + kAlign, "encode staging");
    grow(&d_dec_, &dec_cap_, round_up(decode_bytes) + kAlign, "decode staging");
    if (!d_flag_) {
      devutil::check(cudaMalloc(&d_flag_, sizeof(int)), "cudaMalloc (non-finite flag)");
      devutil::check(cudaMemsetAsync(d_flag_, 0, sizeof(int), stream_), "cudaMemsetAsync");
    }
    if (!d_corrupt_) {
      devutil::check(cudaMalloc(&d_corrupt_, sizeof(int)), "cudaMalloc (corrupt-payload flag)");
      devutil::check(cudaMemsetAsync(d_corrupt_, 0, sizeof(int), stream_), "cudaMemsetAsync");
    }
    conv_used_ = 0;
    enc_used_ = dec_used_ = 0;
    pending_out_ = nullptr;
    staged_.clear();
    return true;
  }

  size_t encode(const Compressor& codec, const float* x, size_t n, uint8_t* out, uint64_t rng_key, Feedback fb,
                float* state) override {
    GW_REQUIRE(fb == Feedback::kNone || state || n == 0, GW_ERR_INTERNAL,
               "device encode with error feedback but no device state");
    const size_t bytes = codec.encoded_bytes(n);
    GW_REQUIRE(enc_used_ + bytes <= enc_cap_, GW_ERR_INTERNAL, "device encode staging too small");
    if (!pending_out_) pending_out_ = out;
    // Pieces of one message are encoded back to back, in host and device alike.
    GW_REQUIRE(out == pending_out_ + enc_used_, GW_ERR_INTERNAL, "device encodes must be contiguous");
    const DeviceCompressor& twin = *twins_.at(&codec);
    if (fb == Feedback::kNone) {
      twin.encode(x, n, d_enc_ + enc_used_, rng_key, d_flag_, stream_);
    } else {
      // The state is the layer's device vector; generic twins need 2n floats of
      // scratch, grown here once per larger layer (warm-up), fused ones none.
      grow(&d_fb_, &fb_cap_, twin.feedback_scratch_bytes(n, fb), "feedback scratch");
      twin.encode_feedback(x, state, n, fb, d_enc_ + enc_used_, rng_key, d_flag_, stream_, d_fb_);
    }
    enc_used_ += bytes;
    return bytes;
  }

  bool finish_encodes() override {
    int flag = 0;
    if (enc_used_)
      devutil::check(cudaMemcpyAsync(pending_out_, d_enc_, enc_used_, cudaMemcpyDeviceToHost, stream_),
                     "cudaMemcpyAsync (payload to host)");
    devutil::check(cudaMemcpyAsync(&flag_host_, d_flag_, sizeof(int), cudaMemcpyDeviceToHost, stream_),
                   "cudaMemcpyAsync (flag)");
    devutil::check(cudaMemsetAsync(d_flag_, 0, sizeof(int), stream_), "cudaMemsetAsync (flag)");
    devutil::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (payload ready to send)");
    flag = flag_host_;
    enc_used_ = 0;
    pending_out_ = nullptr;
    return flag != 0;
  }

  void stage(const uint8_t* payload, size_t bytes) override {
    if (dec_used_ + round_up(bytes) > dec_cap_) finish_decodes();  // staging full: let it drain first
    GW_REQUIRE(round_up(bytes) <= dec_cap_, GW_ERR_INTERNAL, "device decode staging smaller than one message");
    if (bytes)
      devutil::check(cudaMemcpyAsync(d_dec_ + dec_used_, payload, bytes, cudaMemcpyHostToDevice, stream_),
                     "cudaMemcpyAsync (payload to device)");
    staged_.push_back({payload, bytes, d_dec_ + dec_used_});
    dec_used_ += round_up(bytes);
  }

  void decode(const Compressor& codec, const uint8_t* in, size_t bytes, size_t n, float* out, bool add) override {
    const uint8_t* d_in = nullptr;
    for (const Staged& m : staged_)
      if (in >= m.host && in + bytes <= m.host + m.bytes) d_in = m.device + (in - m.host);
    if (!d_in) {  // not announced: stage just this payload
      stage(in, bytes);
      d_in = staged_.back().device;
    }
    const DeviceCompressor& twin = *twins_.at(&codec);
    if (const auto* t = dynamic_cast<const TopkCompressor*>(&codec)) {
      // index=auto peers send varint / bitmap sections, which the GPU decoder
      // does not read: recode them to raw here, where the payload is (checked
      // fully on the host as the CPU decoder checks it).
      if (bytes >= kTopkHeaderBytes && in[0] != static_cast<uint8_t>(topk::IndexFormat::kRaw))
        d_in = to_raw(*t, in, bytes, n, &bytes);
    }
    // Payload contents checked on the device are reported at finish_decodes().
    twin.decode_checked(d_in, bytes, n, out, add, d_corrupt_, stream_);
  }

  void finish_decodes() override {
    devutil::check(cudaMemcpyAsync(&corrupt_host_, d_corrupt_, sizeof(int), cudaMemcpyDeviceToHost, stream_),
                   "cudaMemcpyAsync (corrupt flag)");
    devutil::check(cudaMemsetAsync(d_corrupt_, 0, sizeof(int), stream_), "cudaMemsetAsync (corrupt flag)");
    devutil::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (payloads consumed)");
    dec_used_ = 0;
    conv_used_ = 0;
    staged_.clear();
    GW_REQUIRE(corrupt_host_ == 0, GW_ERR_CORRUPT,
               "a received topk payload holds an index out of range or out of order, or a wrong header");
  }

  void copy(float* dst, const float* src, size_t n) override {
    if (dst != src && n)
      devutil::check(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
                     "cudaMemcpyAsync (device copy)");
  }

  void scale(float* x, size_t n, float factor) override {
    devkernels::scale(x, n, factor, stream_);
  }

  void ef21_step(float* g, float* out, size_t n) override { devkernels::ef21_step(g, out, n, stream_); }

  bool on_device() const override { return true; }
  void* stream() const override { return stream_; }
  void synchronize() override { devutil::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (call done)"); }

 private:
  void grow(uint8_t** p, size_t* cap, size_t want, const char* what) {
    if (*cap >= want) return;
    cudaFree(*p);  // waits for the device: nothing still reads the old buffer
    *p = nullptr;
    *cap = 0;
    devutil::check(cudaMalloc(p, want), what);
    *cap = want;
  }

  // A topk payload with a varint / bitmap index section recoded as raw (the
  // GPU decoder's format) on the host, then copied to the device; returns it
  // there and its new size in *raw_bytes. Indices checked as the CPU does
  // (GW_ERR_CORRUPT). Buffers are grow-only.
  const uint8_t* to_raw(const TopkCompressor& t, const uint8_t* in, size_t bytes, size_t n, size_t* raw_bytes) {
    const size_t len = t.payload_extent(in, bytes, n);
    GW_REQUIRE(len == bytes, GW_ERR_CORRUPT, t.spec(), ": payload of ", bytes, " bytes, its header says ", len);
    uint32_t k = 0, section = 0;
    std::memcpy(&k, in + 4, 4);
    std::memcpy(&section, in + 8, 4);
    const size_t want = t.encoded_bytes(n);
    conv_host_.resize(want);
    uint8_t* h = conv_host_.data();
    const uint32_t fmt = static_cast<uint32_t>(topk::IndexFormat::kRaw), raw_section = 4 * k;
    std::memcpy(h, &fmt, 4);
    std::memcpy(h + 4, &k, 4);
    std::memcpy(h + 8, &raw_section, 4);
    topk::read_indices(static_cast<topk::IndexFormat>(in[0]), in + kTopkHeaderBytes, section, n, k,
                       t.spec().c_str(), [&](size_t j, uint32_t i) { std::memcpy(h + 12 + 4 * j, &i, 4); });
    std::memcpy(h + 12 + 4ull * k, in + kTopkHeaderBytes + section, 4ull * k);
    const size_t need = round_up(want);
    if (conv_used_ + need > conv_cap_) {
      devutil::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (recode buffer)");
      conv_used_ = 0;
      grow(&d_conv_, &conv_cap_, need, "topk recode buffer");
    }
    uint8_t* d = d_conv_ + conv_used_;
    // From pageable memory: the copy has read conv_host_ when it returns.
    devutil::check(cudaMemcpyAsync(d, h, want, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (recoded topk)");
    conv_used_ += need;
    *raw_bytes = want;
    return d;
  }

  cudaStream_t stream_ = nullptr;  // the current call's stream
  uint8_t* d_enc_ = nullptr;
  uint8_t* d_dec_ = nullptr;
  int* d_flag_ = nullptr;
  int flag_host_ = 0;
  int* d_corrupt_ = nullptr;  // set by decoders that check payload contents on the device
  int corrupt_host_ = 0;
  uint8_t* d_fb_ = nullptr;  // generic error-feedback scratch
  size_t fb_cap_ = 0;
  uint8_t* d_conv_ = nullptr;  // recoded topk payloads since finish_decodes()
  size_t conv_cap_ = 0, conv_used_ = 0;
  std::vector<uint8_t> conv_host_;
  size_t enc_cap_ = 0, dec_cap_ = 0, enc_used_ = 0, dec_used_ = 0;
  uint8_t* pending_out_ = nullptr;
  struct Staged {
    const uint8_t* host;
    size_t bytes;
    uint8_t* device;
  };
  std::vector<Staged> staged_;  // payloads copied to the device since finish_decodes()
  std::map<const Compressor*, std::unique_ptr<DeviceCompressor>> twins_;
};

}  // namespace

std::unique_ptr<DataOps> make_device_ops() { return std::unique_ptr<DataOps>(new DeviceOps()); }

}  // namespace gw
