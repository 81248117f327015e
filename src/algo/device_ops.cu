// DataOps for device data: the CUDA twins run on the caller's stream; payloads
// go device -> pinned host after encoding and host -> device before decoding,
// so only compressed bytes cross PCIe. Two host synchronizations per exchange
// (encoded payload ready to send; received payloads copied in) are inherent to
// a host transport; the NCCL transport will not need them.
#include <map>
#include <memory>

#include "algo/data_ops.h"
#include "algo/device_kernels.cuh"
#include "core/device_compressor.h"
#include "core/device_util.cuh"

namespace gw {
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
    enc_used_ = dec_used_ = 0;
    pending_out_ = nullptr;
    staged_.clear();
    return true;
  }

  size_t encode(const Compressor& codec, const float* x, size_t n, uint8_t* out, uint64_t rng_key, Feedback fb,
                float*) override {
    // Calls with feedback run on staged host data for now (Communicator::run).
    GW_REQUIRE(fb == Feedback::kNone, GW_ERR_INTERNAL, "device encode with error feedback");
    const size_t bytes = codec.encoded_bytes(n);
    GW_REQUIRE(enc_used_ + bytes <= enc_cap_, GW_ERR_INTERNAL, "device encode staging too small");
    if (!pending_out_) pending_out_ = out;
    // Pieces of one message are encoded back to back, in host and device alike.
    GW_REQUIRE(out == pending_out_ + enc_used_, GW_ERR_INTERNAL, "device encodes must be contiguous");
    twins_.at(&codec)->encode(x, n, d_enc_ + enc_used_, rng_key, d_flag_, stream_);
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
    if (add) twin.decode_add(d_in, bytes, n, out, stream_);
    else twin.decode(d_in, bytes, n, out, stream_);
  }

  void finish_decodes() override {
    devutil::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (payloads consumed)");
    dec_used_ = 0;
    staged_.clear();
  }

  void copy(float* dst, const float* src, size_t n) override {
    if (dst != src && n)
      devutil::check(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
                     "cudaMemcpyAsync (device copy)");
  }

  void scale(float* x, size_t n, float factor) override {
    devkernels::scale(x, n, factor, stream_);
  }

 private:
  void grow(uint8_t** p, size_t* cap, size_t want, const char* what) {
    if (*cap >= want) return;
    cudaFree(*p);  // waits for the device: nothing still reads the old buffer
    *p = nullptr;
    *cap = 0;
    devutil::check(cudaMalloc(p, want), what);
    *cap = want;
  }

  cudaStream_t stream_ = nullptr;  // the current call's stream
  uint8_t* d_enc_ = nullptr;
  uint8_t* d_dec_ = nullptr;
  int* d_flag_ = nullptr;
  int flag_host_ = 0;
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
