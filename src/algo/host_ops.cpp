#include <cstring>

#include "src/algo/data_ops.h"
#include "src/common/error.h"

namespace gw {

void DataOps::decode_near(const Compressor& codec, const uint8_t*, size_t, size_t, const float*, float*, bool,
                          std::vector<uint32_t>*) {
  fail(GW_ERR_UNSUPPORTED, codec.spec(), " decodes against a host reference; its data is staged to the host");
}

namespace {

class HostOps final : public DataOps {
 public:
  bool prepare(const std::vector<const Compressor*>&, void*, size_t, size_t) override { return true; }
  size_t encode(const Compressor& codec, const float* x, size_t n, uint8_t* out, uint64_t rng_key, Feedback fb,
                float* state) override {
    bool nf = false;
    size_t bytes = fb == Feedback::kNone ? codec.encode(x, n, out, rng_key, &nf)
                                         : codec.encode_feedback(x, state, n, fb, out, rng_key, &nf);
    nonfinite_ |= nf;
    return bytes;
  }
  bool finish_encodes() override {
    bool nf = nonfinite_;
    nonfinite_ = false;
    return nf;
  }
  void stage(const uint8_t*, size_t) override {}
  void decode(const Compressor& codec, const uint8_t* in, size_t bytes, size_t n, float* out, bool add) override {
    if (add) codec.decode_add(in, bytes, n, out);
    else codec.decode(in, bytes, n, out);
  }
  void decode_near(const Compressor& codec, const uint8_t* in, size_t bytes, size_t n, const float* ref, float* out,
                   bool add, std::vector<uint32_t>* missed) override {
    codec.decode_near(in, bytes, n, ref, out, add, missed);
  }
  void finish_decodes() override {}
  void copy(float* dst, const float* src, size_t n) override {
    if (dst != src && n) std::memmove(dst, src, n * sizeof(float));
  }
  void scale(float* x, size_t n, float factor) override {
    for (size_t i = 0; i < n; ++i) x[i] *= factor;
  }
  void ef21_step(float* g, float* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = g[i] += out[i];
  }

 private:
  bool nonfinite_ = false;
};

}  // namespace

std::unique_ptr<DataOps> make_host_ops() { return std::unique_ptr<DataOps>(new HostOps()); }

}  // namespace gw
