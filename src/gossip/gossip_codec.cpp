#include "src/gossip/gossip_codec.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "src/common/error.h"
#include "src/core/compressor.h"
#include "src/scheme/round_codec.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

// Values per spacing: the codes' unit (lattice.h kUnit), read from the codec's
// layout rather than named: the round vector of n floats holds
// units_of(n) spacings, units_of(n) = (n + U) / (U + 1).
constexpr size_t kUnitValues = 4096;

}  // namespace

GossipCodec::GossipCodec(size_t count, int bits)
    : count_(count), units_((count + kUnitValues - 1) / kUnitValues), round_len_(count + units_),
      q_(static_cast<double>(1u << bits)) {
  auto scheme = registry().make("lattice:bits=" + std::to_string(bits) + ",eps=1,rotate=0");
  const RoundCodec* rc = scheme->round_codec();
  GW_REQUIRE(rc != nullptr, GW_ERR_INTERNAL, "the lattice family has no round codec");
  codes_ = rc->factor_codec();
  GW_REQUIRE(codes_->traits().decodes_near_reference, GW_ERR_INTERNAL, "lattice codes do not decode near a reference");
  codes_bytes_ = codes_->encoded_bytes(round_len_);
  zeros_.assign(count_, 0.0f);
}

bool GossipCodec::valid_hints(const float* hints, size_t units) {
  for (size_t u = 0; u < units; ++u)
    if (!(hints[u] > 0) || !std::isfinite(hints[u])) return false;
  return true;
}

void GossipCodec::encode_copy(const float* values, const float* hints, uint64_t key, uint8_t* out,
                              std::vector<float>& scratch) const {
  scratch.resize(round_len_);
  std::memcpy(scratch.data(), hints, units_ * sizeof(float));
  std::memcpy(scratch.data() + units_, values, count_ * sizeof(float));
  bool nonfinite = false;
  codes_->encode(scratch.data(), round_len_, out, key, &nonfinite);
}

bool GossipCodec::decode_round_vector(const uint8_t* in, const float* ref_values, float* out,
                                      std::vector<float>& scratch) const {
  // scratch: [reference round vector | decoded round vector]
  scratch.resize(2 * round_len_);
  float* ref = scratch.data();
  float* dec = ref + round_len_;
  std::fill(ref, ref + units_, 0.0f);
  std::memcpy(ref + units_, ref_values, count_ * sizeof(float));
  std::vector<uint32_t> missed;
  codes_->decode_near(in, codes_bytes_, round_len_, ref, dec, false, &missed);
  if (!missed.empty()) return false;
  for (size_t i = 0; i < count_; ++i)
    if (!std::isfinite(dec[units_ + i])) return false;
  std::memcpy(out, dec + units_, count_ * sizeof(float));
  return true;
}

bool GossipCodec::decode_copy(const uint8_t* in, const float* own, float* out, std::vector<float>& scratch) const {
  return decode_round_vector(in, own, out, scratch);
}

void GossipCodec::next_hints(const float* own, const float* copy, float* hints) const {
  const double reach = q_ / 2 - 1;  // the codes decode exactly within eps (q/2 - 1) of the reference
  const double margin = std::max(2.0, reach / 16);  // 7.9 at 8 bits, 2 at 4..6
  for (size_t u = 0; u < units_; ++u) {
    const size_t b = u * kUnitValues, e = std::min(count_, b + kUnitValues);
    double far = 0, big = 0;
    for (size_t i = b; i < e; ++i) {
      far = std::max(far, std::fabs(static_cast<double>(own[i]) - copy[i]));
      big = std::max(big, std::fabs(static_cast<double>(own[i])));
    }
    // A margin for the drift until the next interaction (both models take
    // local steps and deltas): the codes cost the same bytes at any spacing,
    // so the margin is as wide as keeps the rounding (margin/2 spacings of
    // far/reach) within 1/32 of the distance, and at least 2x; never below
    // what float values of this size can tell apart.
    double eps = std::max({margin * far / reach, 1e-6 * big, static_cast<double>(FLT_MIN)});
    hints[u] = static_cast<float>(std::min(eps, static_cast<double>(FLT_MAX)));
  }
}

void GossipCodec::encode_delta(const float* d, uint64_t key, uint8_t* out, float* decoded,
                               std::vector<float>& scratch) const {
  std::vector<float> spacing(units_);
  const double reach = q_ / 2 - 1;
  for (size_t u = 0; u < units_; ++u) {
    const size_t b = u * kUnitValues, e = std::min(count_, b + kUnitValues);
    double m = 0;
    for (size_t i = b; i < e; ++i) m = std::max(m, std::fabs(static_cast<double>(d[i])));
    // |d| < eps (q/2 - 1) strictly, rounding included: exact against zero.
    spacing[u] = static_cast<float>(std::max(1.01 * m / reach, static_cast<double>(FLT_MIN)));
  }
  encode_copy(d, spacing.data(), key, out, scratch);
  GW_REQUIRE(decode_round_vector(out, zeros_.data(), decoded, scratch), GW_ERR_INTERNAL,
             "a gossip delta's lattice codes do not decode against zero");
}

bool GossipCodec::decode_delta(const uint8_t* in, float* out, std::vector<float>& scratch) const {
  return decode_round_vector(in, zeros_.data(), out, scratch);
}

}  // namespace gw
