#include "src/robust/peer_rule.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "src/common/error.h"

namespace gw {
namespace {

// The reference rule: the rank-order sum divided by n, which is what the
// running sum computes (bit for bit when decode_add is out + decode).
class MeanRule final : public PeerRule {
 public:
  const std::string& name() const override { return name_; }
  void combine(const float* const* peers, int n, size_t count, float* out) const override {
    const float inv_n = 1.0f / static_cast<float>(n);
    for (size_t i = 0; i < count; ++i) {
      float s = peers[0][i];
      for (int r = 1; r < n; ++r) s += peers[r][i];
      out[i] = s * inv_n;
    }
  }

 private:
  std::string name_ = "mean";
};

// Coordinate-wise median; for even n the mean of the two middle values. NaN
// sorts above +Inf: a comparator that is a strict weak order even on NaN
// (std::nth_element with a plain < may read out of bounds on NaN).
class MedianRule final : public PeerRule {
 public:
  const std::string& name() const override { return name_; }
  void combine(const float* const* peers, int n, size_t count, float* out) const override {
    auto less = [](float a, float b) { return a < b || (std::isnan(b) && !std::isnan(a)); };
    thread_local std::vector<float> column;  // grow-only: no allocation per call
    column.resize(static_cast<size_t>(n));
    const size_t mid = static_cast<size_t>(n) / 2;
    for (size_t i = 0; i < count; ++i) {
      for (int r = 0; r < n; ++r) column[static_cast<size_t>(r)] = peers[r][i];
      std::nth_element(column.begin(), column.begin() + mid, column.end(), less);
      float upper = column[mid];
      if (n % 2) {
        out[i] = upper;
      } else {  // the lower middle is the largest of the elements before mid
        float lower = *std::max_element(column.begin(), column.begin() + mid, less);
        out[i] = lower * 0.5f + upper * 0.5f;  // no overflow near FLT_MAX
      }
    }
  }

 private:
  std::string name_ = "median";
};

}  // namespace

std::shared_ptr<const PeerRule> make_peer_rule(const std::string& spec) {
  if (spec == "none") return nullptr;
  if (spec == "mean") return std::make_shared<MeanRule>();
  if (spec == "median") return std::make_shared<MedianRule>();
  fail(GW_ERR_INVALID_ARGUMENT, "robust: unknown rule '", clip_text(spec), "' (none|mean|median)");
}

}  // namespace gw
