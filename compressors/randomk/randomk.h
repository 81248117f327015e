// "randomk:density=D" — unbiased random sparsification with shared positions.
//
// The layer's n values are cut into k = ceil(D * n) strata of near-equal length
// (stratum j = [j*n/k, (j+1)*n/k)); one position is drawn in each stratum from
// the encode key, and its value is sent scaled by the stratum's length, so
// E[decode] == x (stratified sampling: each value is kept with probability
// 1/len and weighted len). The key is the same on every rank (shared_key), so
// all ranks keep the same positions and the payloads sum like dense vectors;
// only values travel, with the key that names the positions:
//   u64 key, k x float32 scaled values            (8 + 4k bytes, fixed for n)
// Position of stratum j: start_j + ((rng_u32(key, j) * len_j) >> 32).
#pragma once

#include "src/core/compressor.h"

namespace gw {

class Registry;

constexpr uint16_t kRandomkCompressorId = 8;

class RandomkCompressor final : public Compressor {
 public:
  explicit RandomkCompressor(double density);

  uint16_t id() const override { return kRandomkCompressorId; }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override;
  size_t encoded_bytes(size_t n) const override { return 8 + 4 * k(n); }
  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override;
  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override;
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override;

  size_t k(size_t n) const;

 private:
  template <typename Visit>
  void strata(size_t n, uint64_t key, Visit&& visit) const;  // visit(j, position, stratum length)
  void check(size_t bytes, size_t n) const;

  double density_;
  std::string spec_;
};

void register_randomk(Registry& r);

}  // namespace gw
