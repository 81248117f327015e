// The compressor interface (FAISS-style codec): a stateless, const object built
// from a spec string. Per-layer state (residuals, factors) lives in the layer,
// not here, so one compressor object may serve many layers and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gw {

class RoundCodec;      // src/scheme/round_codec.h
class AdaptiveFamily;  // src/planner/adaptive.h

struct CompressorTraits {
  bool unbiased = false;             // E[decode(encode(x))] == x
  bool linear = false;               // decode(a)+decode(b) == decode of a sum (none)
  bool needs_error_feedback = false;  // biased compressors (topk) want x = g + e
  bool fixed_size = true;            // encoded size depends on n only
  // The layer is one encode unit, never cut into pieces or SRA parts (k per
  // layer for topk); calls holding such a layer run the allgather algorithm.
  bool whole_layer = false;
  // Encode keys are the same on every rank (randomk: every rank keeps the same
  // positions, so the kept values sum like a dense vector).
  bool shared_key = false;
  // Payloads decode only against a reference the receiver holds (its own
  // vector: the lattice codes of compressors/lattice/), through decode_near;
  // decode and decode_add are never called. Such codecs are whole-layer and
  // run in the allgather algorithm, where every rank decodes every payload.
  bool decodes_near_reference = false;
};

// Error feedback around a codec C, per layer (the state vector s is as long as
// the layer and lives across calls; see src/scheme/layer_state.h):
//   kResidual (ef=1): x = g + s; send C(x); s = x - D(C(x))
//   kEf21     (ef=ef21, Richtarik et al. 2021): x = g - s; send C(x); s += D(C(x))
//             (s is this rank's g_i; the layer also keeps the shared aggregate)
enum class Feedback : uint8_t { kNone = 0, kResidual = 1, kEf21 = 2 };

// The payload shape shared by the bucket quantizers (maxmin, qsgd, nuq), for
// stages that re-code their levels without re-implementing them (the lossless
// stage, compressors/lossless/). For n values, nb = ceil(n / bucket):
//   [nb x scale_bytes raw per-bucket scalars][bucket 0 codes][bucket 1 codes]...
// bucket j's codes at nb*scale_bytes + j*ceil(bucket*bits/8), ceil(len*bits/8)
// bytes for its len values, bits-bit codes packed LSB-first (compressors/common/
// bitpack.h), unused high bits zero. sign_magnitude: bit bits-1 of a code is a
// sign and bits 0..bits-2 a magnitude level in [0, max_level] (a zero level has
// sign 0); otherwise the whole code is an unsigned level in [0, max_level].
struct PackedLevels {
  int bits = 0;
  size_t bucket = 0;
  size_t scale_bytes = 0;
  bool sign_magnitude = false;
  uint32_t max_level = 0;
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

  // encode() of the error-corrected x (Feedback above) with the state update,
  // state[0..n) aligned with g. The default runs encode, then decode into a
  // scratch vector; codecs override it with a fused pass (topk).
  virtual size_t encode_feedback(const float* g, float* state, size_t n, Feedback mode, uint8_t* out,
                                 uint64_t rng_key, bool* nonfinite) const;

  // Decodes a payload of `bytes` bytes holding n values. Payload bytes come from
  // peers and are untrusted: a size that does not match n is GW_ERR_CORRUPT
  // (thrown as gw::Error), and nothing outside in[0..bytes) / out[0..n) is touched.
  virtual void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const = 0;
  // acc[i] += decoded value i (the inner loop of every compressed allreduce).
  virtual void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const = 0;

  // For codecs with traits().decodes_near_reference: decodes a payload of n
  // values against ref[0..n), this rank's own vector (out = decoded, or out +=
  // decoded with add). The payload carries its own checks, one per unit of
  // values; a unit whose check fails (the sender's values were too far from
  // ref to decode) is appended to *missed and its values in out are
  // meaningless. Malformed payloads are GW_ERR_CORRUPT as for decode.
  virtual void decode_near(const uint8_t* in, size_t bytes, size_t n, const float* ref, float* out, bool add,
                           std::vector<uint32_t>* missed) const;

  // The length of the payload for n values that starts at in[0..avail), which
  // may be followed by others (pieces travel back to back in one message).
  // Fixed-size codecs: encoded_bytes(n). Variable-size codecs (fixed_size false)
  // read it from the payload's own length prefix. A length that does not fit in
  // avail is GW_ERR_CORRUPT; nothing past in[avail) is read.
  virtual size_t payload_extent(const uint8_t* in, size_t avail, size_t n) const;

  // Codecs whose payload is scales + packed levels describe it here (and return
  // true), which lets the registry apply `lossless=elias|zstd` to them.
  virtual bool packed_levels(PackedLevels* /*out*/) const { return false; }

  // Families whose calls run several exchanges (low rank) return their round
  // scheme here; the engine then drives them through it, and encode/decode
  // above are never called (src/scheme/round_codec.h).
  virtual const RoundCodec* round_codec() const { return nullptr; }

  // Families whose layers L-GreCo plans (lgreco) return their grid here; the
  // communicator then sends each such layer in its planned candidate's codec.
  virtual const AdaptiveFamily* adaptive() const { return nullptr; }
};

}  // namespace gw
