// SafeguardSGD (Allen-Zhu, Ebrahimian, Li, Alistarh, ICLR 2021) on one layer:
// every rank's vectors are summed over a long and a short window; after each
// call, in each window, the "median" sum is the one whose median distance to
// the others is smallest, and a rank whose sum lies farther from it than ratio
// x the median of those distances leaves the good set for good. The result is
// the mean of the good ranks. Honest sums drift apart like sqrt(steps) while
// a steady bias grows like steps, so the long window catches slow attacks and
// the short one fast ones. The threshold is relative (ratio x a typical honest
// distance) rather than an absolute bound the user would have to know.
#include <algorithm>
#include <cmath>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"

namespace gw {
namespace {

class SafeguardRule final : public NamedRule {
 public:
  SafeguardRule(const std::string& name, int long_window, int short_window, double ratio)
      : NamedRule(name), long_(long_window), short_(short_window), ratio_(ratio) {}
  bool coordinatewise() const override { return false; }
  // Fresh (nothing), or the two windows of `world` rows of `count` floats,
  // each window part way through (a full window restarts within its call).
  std::string check_state(const RuleState& st, int world) const override {
    const bool fresh = st.count == 0 && st.windows.empty() && st.long_steps == 0 && st.short_steps == 0;
    const bool sized = st.count > 0 && st.windows.size() / 2 / st.count == static_cast<size_t>(world) &&
                       st.windows.size() == 2 * static_cast<size_t>(world) * st.count;
    if (!fresh && !sized)
      return concat_parts("robust=", name(), " keeps 2 x ", world, " ranks x count floats; the record holds ",
                          st.windows.size(), " for count ", st.count);
    if (!st.center.empty())
      return concat_parts("robust=", name(), " keeps no center; the record holds ", st.center.size());
    if (st.long_steps >= static_cast<uint64_t>(long_) || st.short_steps >= static_cast<uint64_t>(short_))
      return concat_parts("robust=", name(), ": window steps ", st.long_steps, "/", st.short_steps,
                          " in windows of ", long_, "/", short_, " calls");
    return std::string();
  }

  void combine(const PeerRows& p, size_t count, float* out, RuleState& st, std::vector<int>& removed) const override {
    const size_t world = static_cast<size_t>(p.world);
    if (st.count != count || st.windows.size() != 2 * world * count) {
      if (st.count) GW_LOG(INFO, "robust=", name(), ": the layer's count changed (", st.count, " -> ", count,
                           "); its windows start again");
      st.clear();
      st.count = count;
      st.windows.assign(2 * world * count, 0.0f);
    }
    float* long_sums = st.windows.data();
    float* short_sums = long_sums + world * count;
    for (int k = 0; k < p.m; ++k) {
      const size_t r = static_cast<size_t>(p.ranks[k]);
      for (size_t i = 0; i < count; ++i) {
        long_sums[r * count + i] += p.rows[k][i];
        short_sums[r * count + i] += p.rows[k][i];
      }
    }
    ++st.long_steps;
    ++st.short_steps;
    std::vector<bool> bad(static_cast<size_t>(p.m), false);
    test_window(p, long_sums, count, bad);
    test_window(p, short_sums, count, bad);
    // The good set keeps a majority of the communicator: the guarantee needs
    // fewer than half Byzantine, so a test that would remove more is noise.
    std::vector<int> good;
    std::vector<int> dropped;
    for (int k = 0; k < p.m; ++k) (bad[static_cast<size_t>(k)] ? dropped : good).push_back(k);
    if (!dropped.empty() && !keeps_majority(good.size(), world)) {
      GW_LOG(WARN, "robust=", name(), ": the test would leave ", good.size(), " of ", world,
             " ranks, not a majority; nobody is removed this call");
      good.clear();
      for (int k = 0; k < p.m; ++k) good.push_back(k);
      dropped.clear();
    }
    for (int k : dropped) removed.push_back(p.ranks[k]);
    mean_of_rows(p.rows, good.data(), static_cast<int>(good.size()), count, out);
    if (st.long_steps >= static_cast<uint64_t>(long_)) {
      std::fill(long_sums, long_sums + world * count, 0.0f);
      st.long_steps = 0;
    }
    if (st.short_steps >= static_cast<uint64_t>(short_)) {
      std::fill(short_sums, short_sums + world * count, 0.0f);
      st.short_steps = 0;
    }
  }

 private:
  // Marks the rows whose window sum is an outlier in this window.
  void test_window(const PeerRows& p, const float* sums, size_t count, std::vector<bool>& bad) const {
    const size_t m = static_cast<size_t>(p.m);
    if (m < 3) return;  // two ranks cannot tell who is the outlier
    std::vector<double> d(m * m, 0.0);
    for (size_t a = 0; a < m; ++a)
      for (size_t b = a + 1; b < m; ++b)
        d[a * m + b] = d[b * m + a] = squared_distance(sums + static_cast<size_t>(p.ranks[a]) * count,
                                                       sums + static_cast<size_t>(p.ranks[b]) * count, count);
    // median_k d(a, k) over the others; the smallest names the median sum.
    auto median_distance = [&](size_t a) {
      std::vector<double> row;
      for (size_t b = 0; b < m; ++b)
        if (b != a) row.push_back(d[a * m + b]);
      std::sort(row.begin(), row.end());
      return row[(row.size() - 1) / 2];
    };
    std::vector<double> med(m);
    for (size_t a = 0; a < m; ++a) med[a] = median_distance(a);
    const size_t centre = static_cast<size_t>(order_by(med)[0]);
    const double limit = ratio_ * ratio_ * med[centre];  // squared distances
    if (!(med[centre] > 0)) return;  // identical sums: nothing stands out
    for (size_t a = 0; a < m; ++a)
      if (a != centre && d[a * m + centre] > limit) bad[a] = true;
  }

  int long_, short_;
  double ratio_;
};

}  // namespace

std::unique_ptr<PeerRule> make_safeguard_rule(const std::string& name, int long_window, int short_window,
                                              double ratio) {
  return std::unique_ptr<PeerRule>(new SafeguardRule(name, long_window, short_window, ratio));
}

}  // namespace gw
