// The compressor interface (FAISS-style codec): a stateless, const object built
// from a spec string. Per-layer state (residuals, factors) lives in the layer,
// not here, so one compressor object may serve many layers and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gw {

struct CompressorTraits {
  bool unbiased = false;             // E[decode(encode(x))] == x
  bool linear = false;               // decode(a)+decode(b) == decode of a sum (none)
  bool needs_error_feedback = false;  // biased compressors (topk) want x = g + e
  bool fixed_size = true;            // encoded size depends on n only
};

class Compressor {
 public:
  virtual ~Compressor() = default;

  // Stable numeric id written on the wire (see compressors/<name>/).
  virtual uint16_t id() const = 0;
  // Canonical, self-describing spec ("maxmin:bits=4,bucket=512"); equal specs
  // give equal strings, so its hash identifies the codec on the wire.
  virtual const std::string& spec() const = 0;
  virtual CompressorTraits traits() const = 0;

  // Exact payload size for n values (fixed-size codecs); an upper bound otherwise.
  virtual size_t encoded_bytes(size_t n) const = 0;

  // Encodes x[0..n) into out (encoded_bytes(n) bytes available); returns the
  // bytes written. rng_key seeds stochastic rounding: element i uses the
  // counter-based stream (rng_key, i), so encodings are reproducible and
  // independent of how the caller splits work. Sets *nonfinite when an input
  // value is NaN or +-Inf (a bucket holding one decodes to NaN).
  virtual size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key,
                        bool* nonfinite) const = 0;

  // Decodes a payload of `bytes` bytes holding n values. Payload bytes come from
  // peers and are untrusted: a size that does not match n is GW_ERR_CORRUPT
  // (thrown as gw::Error), and nothing outside in[0..bytes) / out[0..n) is touched.
  virtual void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const = 0;
  // acc[i] += decoded value i (the inner loop of every compressed allreduce).
  virtual void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const = 0;
};

}  // namespace gw
