// The rules that look at one coordinate at a time: mean, median, trimmed mean.
#include <algorithm>
#include <cmath>
#include <vector>

#include "src/common/error.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"

namespace gw {
namespace {

// NaN sorts above +Inf: a comparator that is a strict weak order even on NaN
// (std::nth_element with a plain < may read out of bounds on NaN).
bool nan_last_less(float a, float b) { return a < b || (std::isnan(b) && !std::isnan(a)); }

// The reference rule: the rank-order sum divided by m, which is what the
// running sum computes (bit for bit when decode_add is out + decode).
class MeanRule final : public NamedRule {
 public:
  using NamedRule::NamedRule;
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    std::vector<int> all(static_cast<size_t>(p.m));
    for (int r = 0; r < p.m; ++r) all[static_cast<size_t>(r)] = r;
    mean_of_rows(p.rows, all.data(), p.m, count, out);
  }
};

class MedianRule final : public NamedRule {
 public:
  using NamedRule::NamedRule;
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    thread_local std::vector<float> column;  // grow-only: no allocation per call
    const int n = p.m;
    column.resize(static_cast<size_t>(n));
    const size_t mid = static_cast<size_t>(n) / 2;
    for (size_t i = 0; i < count; ++i) {
      for (int r = 0; r < n; ++r) column[static_cast<size_t>(r)] = p.rows[r][i];
      std::nth_element(column.begin(), column.begin() + mid, column.end(), nan_last_less);
      float upper = column[mid];
      if (n % 2) {
        out[i] = upper;
      } else {  // the lower middle is the largest of the elements before mid
        float lower = *std::max_element(column.begin(), column.begin() + mid, nan_last_less);
        out[i] = lower * 0.5f + upper * 0.5f;  // no overflow near FLT_MAX
      }
    }
  }
};

class TrimmedMeanRule final : public NamedRule {
 public:
  TrimmedMeanRule(const std::string& name, int b) : NamedRule(name), b_(b) {}
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    GW_REQUIRE(p.m > 2 * b_, GW_ERR_INVALID_ARGUMENT, "robust=", name(), " drops ", 2 * b_,
               " values per coordinate and needs more than that many ranks; this call has ", p.m);
    thread_local std::vector<float> column;
    column.resize(static_cast<size_t>(p.m));
    const int kept = p.m - 2 * b_;
    const float inv = 1.0f / static_cast<float>(kept);
    for (size_t i = 0; i < count; ++i) {
      for (int r = 0; r < p.m; ++r) column[static_cast<size_t>(r)] = p.rows[r][i];
      std::sort(column.begin(), column.end(), nan_last_less);  // sums in sorted order: the same on every rank
      float s = column[static_cast<size_t>(b_)];
      for (int k = b_ + 1; k < b_ + kept; ++k) s += column[static_cast<size_t>(k)];
      out[i] = s * inv;
    }
  }

 private:
  int b_;
};

}  // namespace

std::unique_ptr<PeerRule> make_mean_rule(const std::string& name) { return std::unique_ptr<PeerRule>(new MeanRule(name)); }
std::unique_ptr<PeerRule> make_median_rule(const std::string& name) {
  return std::unique_ptr<PeerRule>(new MedianRule(name));
}
std::unique_ptr<PeerRule> make_trimmed_mean_rule(const std::string& name, int b) {
  return std::unique_ptr<PeerRule>(new TrimmedMeanRule(name, b));
}

}  // namespace gw
