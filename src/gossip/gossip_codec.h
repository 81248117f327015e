// The quantized exchange of a gossip group (codec=lattice:bits=B): a
// partner's published copy travels as lattice codes decoded against the
// receiver's own model, exactly the lattice setting (models of different ranks
// are close to each other). The codes come from the registry (the "lattice"
// family's round-vector codec), so src/ names no compressor's code.
//
// Spacing: the sender does not know the receiver's model, so the receiver
// asks for a spacing per unit of kUnit values in its request ("hints"),
// learned from its last decoded copy: 2x the largest distance it saw in the
// unit, over (q/2 - 1). A copy that does not decode (a unit farther than the
// spacing covers, caught by the codes' hashes) is asked for again in fp32.
//
// The delta d travels quantized too, with the spacing its sender picks from d
// itself (so it always decodes exactly against zero); the sender applies the
// decoded d it sent, so both sides move by the same amount and the sum over
// ranks stays preserved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace gw {

class Compressor;

class GossipCodec {
 public:
  GossipCodec(size_t count, int bits);  // bits 2..8
  size_t units() const { return units_; }
  size_t hint_bytes() const { return units_ * sizeof(float); }
  size_t codes_bytes() const { return codes_bytes_; }

  // out: codes_bytes() bytes of `values` at the hinted spacings. scratch: any vector (reused).
  void encode_copy(const float* values, const float* hints, uint64_t key, uint8_t* out,
                   std::vector<float>& scratch) const;
  // The copy decoded against `own`; false when some unit could not be.
  bool decode_copy(const uint8_t* in, const float* own, float* out, std::vector<float>& scratch) const;
  // The hints to ask for next, from a copy and the own model it was decoded against.
  void next_hints(const float* own, const float* copy, float* hints) const;
  // A delta: codes at its own spacing, and (decoded) what the receiver will add.
  void encode_delta(const float* d, uint64_t key, uint8_t* out, float* decoded, std::vector<float>& scratch) const;
  bool decode_delta(const uint8_t* in, float* out, std::vector<float>& scratch) const;
  // How much wider a re-ask's spacing is after codes did not decode: the
  // distance was beyond (q/2 - 1) spacings, and at F times the spacing the
  // rounding error (F/2 spacings) stays within 1/8 of that distance, so
  // F = (q/2 - 1) / 4: 31 at 8 bits, 3 at 5. Below 2 (4 bits) a wider
  // spacing would round about as coarsely as the distance: ask for fp32.
  int reask_factor() const { return static_cast<int>((q_ / 2 - 1) / 4); }
  // Hints are valid: finite and > 0.
  static bool valid_hints(const float* hints, size_t units);

 private:
  bool decode_round_vector(const uint8_t* in, const float* ref_values, float* out,
                           std::vector<float>& scratch) const;
  size_t count_, units_, round_len_, codes_bytes_;
  double q_;
  std::shared_ptr<const Compressor> codes_;
  std::vector<float> zeros_;
};

}  // namespace gw
