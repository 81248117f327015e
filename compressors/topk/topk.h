// "topk:density=D,select=sample|exact,index=auto|raw" — magnitude sparsification; error
// feedback on by default (ef=1; the registry reads `ef`, core/compressor.h).
//
// Keeps k = ceil(D * n) values of the layer (k per layer: the codec is whole-
// layer, see CompressorTraits), chosen as topk_select.h says: the exact top-k by
// magnitude, ties toward lower indices, in both select modes (sample, the
// default, is faster; exact is the reference). D in (0, 1], default 0.01; n below 2^32.
//
// Payload, little-endian (index_coding.h for the index section):
//   u8 index format, u8 x3 zero, u32 k, u32 index section bytes,
//   index section, k x float32 values (in index order)
// encoded_bytes(n) = 12 + 8k bounds it (raw indices); the CPU encoder writes
// the smallest of raw / delta-varint / bitmap (index=auto, the default), so the
// size varies (fixed_size false) and the receiver reads it from the payload;
// index=raw always writes raw, the GPU twin's layout (known size, same bytes).
#pragma once

#include <vector>

#include "src/core/compressor.h"
#include "compressors/topk/topk_select.h"

namespace gw {

class Registry;

constexpr uint16_t kTopkCompressorId = 7;
constexpr size_t kTopkHeaderBytes = 12;

class TopkCompressor final : public Compressor {
 public:
  TopkCompressor(double density, topk::Select select, bool raw_only = false);

  uint16_t id() const override { return kTopkCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override { return kTopkHeaderBytes + 8 * k(n); }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  size_t encode_feedback(const float* g, float* state, size_t n, Feedback mode, uint8_t* out, uint64_t rng_key,
                         bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;
  size_t payload_extent(const uint8_t* in, size_t avail, size_t n) const override;

  size_t k(size_t n) const { return topk::k_for(n, density_); }
  double density() const { return density_; }
  topk::Select select_mode() const { return select_; }
  bool raw_only() const { return raw_only_; }

 private:
  size_t write_payload(const float* v, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite,
                       std::vector<uint32_t>& idx) const;
  // Validates the header once, runs before() (nothing is written until the
  // header is known good), then add(index, value) per pair.
  template <typename Before, typename Add>
  void read_payload(const uint8_t* in, size_t bytes, size_t n, Before&& before, Add&& add) const;

  double density_;
  topk::Select select_;
  bool raw_only_;
  std::string spec_;
};

void register_topk(Registry& r);

}  // namespace gw
