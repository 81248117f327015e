// Where a call's data lives and how the codecs run on it. The collective
// algorithm (collective.cpp) speaks only to this interface: messages (header +
// payload) are always in host memory, the transport's; the layer data — the
// input, the output, the owner's reduction — lives on the host (HostOps: the
// CPU codecs) or on a GPU (device ops: the CUDA twins on the caller's stream,
// with only compressed payloads crossing PCIe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/core/compressor.h"

namespace gw {

class DataOps {
 public:
  virtual ~DataOps() = default;
  // Before a call: the codecs it uses, the caller's stream, and the most payload
  // bytes encoded between two finish_encodes() / decoded between two
  // finish_decodes(). Buffers grow here, never during the call. False when a
  // codec cannot run where the data lives (no GPU twin).
  virtual bool prepare(const std::vector<const Compressor*>& codecs, void* stream, size_t encode_bytes,
                       size_t decode_bytes) = 0;
  // Encodes x[0..n) into host memory `out` (codec.encoded_bytes(n) bytes); it
  // is there once finish_encodes() returns. With feedback, state[0..n) (where
  // the data lives) is the layer's feedback vector for x, updated as
  // Compressor::encode_feedback says.
  virtual size_t encode(const Compressor& codec, const float* x, size_t n, uint8_t* out, uint64_t rng_key,
                        Feedback feedback = Feedback::kNone, float* state = nullptr) = 0;
  // Completes the encodes issued so far; true when some input was NaN/Inf.
  virtual bool finish_encodes() = 0;
  // Announces a received message payload that decode() will read piece by
  // piece: device ops copy it to the GPU once instead of once per piece.
  virtual void stage(const uint8_t* payload, size_t bytes) = 0;
  // Decodes a host payload into out[0..n) (add: out += decoded).
  virtual void decode(const Compressor& codec, const uint8_t* in, size_t bytes, size_t n, float* out,
                      bool add) = 0;
  // Compressor::decode_near of a host payload against ref[0..n) (where the data
  // lives); units whose check failed are appended to *missed. Host data only:
  // device ops have no such codec (prepare() is false, and the call is staged).
  virtual void decode_near(const Compressor& codec, const uint8_t* in, size_t bytes, size_t n, const float* ref,
                           float* out, bool add, std::vector<uint32_t>* missed);
  // After this, the host payloads given to decode() may be reused.
  virtual void finish_decodes() = 0;
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  virtual void scale(float* x, size_t n, float factor) = 0;
  // EF21's aggregate step after a call: g += out, then out = g (both where the
  // data lives; g is the layer's shared aggregate, scheme/layer_state.h).
  virtual void ef21_step(float* g, float* out, size_t n) = 0;
  // Where the data these ops take lives, and (device) the stream of the last
  // prepare(): what a round scheme's own compute runs on (scheme/round_codec.h).
  virtual bool on_device() const { return false; }
  virtual void* stream() const { return nullptr; }
  // Waits until everything enqueued on that stream is done (host: nothing to wait for).
  virtual void synchronize() {}
};

std::unique_ptr<DataOps> make_host_ops();

// Device data (CUDA twins on the caller's stream); null without CUDA.
std::unique_ptr<DataOps> make_device_ops();

}  // namespace gw
