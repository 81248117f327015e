// The rules that look at whole vectors: Krum / Multi-Krum, the geometric
// median (smoothed Weiszfeld) and centered clipping. Each sees a layer's
// whole vector from every rank (the allgather form: every honest rank
// computes from the payloads themselves, see docs/ROBUST.md for why the
// distances are not computed on shards).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"

namespace gw {
namespace {

class KrumRule final : public NamedRule {
 public:
  KrumRule(const std::string& name, int f, int select) : NamedRule(name), f_(f), select_(select) {}
  bool coordinatewise() const override { return false; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    const int neighbours = p.m - f_ - 2;
    GW_REQUIRE(neighbours >= 1, GW_ERR_INVALID_ARGUMENT, "robust=", name(), " scores each rank by its m - f - 2 ",
               "nearest others and needs at least f + 3 = ", f_ + 3, " ranks; this call has ", p.m);
    GW_REQUIRE(select_ <= p.m, GW_ERR_INVALID_ARGUMENT, "robust=", name(), " averages ", select_,
               " ranks; this call has ", p.m);
    std::vector<double> d;
    pairwise_squared_distances(p, count, d);
    const size_t m = static_cast<size_t>(p.m);
    std::vector<double> score(m), near;
    for (size_t i = 0; i < m; ++i) {
      near.clear();
      for (size_t j = 0; j < m; ++j)
        if (j != i) near.push_back(d[i * m + j]);
      std::sort(near.begin(), near.end());
      double s = 0;
      for (int k = 0; k < neighbours; ++k) s += near[static_cast<size_t>(k)];
      score[i] = s;
    }
    std::vector<int> picked = order_by(score);
    picked.resize(static_cast<size_t>(select_));
    std::sort(picked.begin(), picked.end());  // averaged in rank order
    mean_of_rows(p.rows, picked.data(), select_, count, out);
  }

 private:
  int f_, select_;
};

// The rows whose values are all finite, in order: the distance rules leave the
// others out (infinitely far), and the result is NaN only when none is left.
std::vector<int> finite_rows(const PeerRows& p, size_t count) {
  std::vector<int> ok;
  for (int r = 0; r < p.m; ++r)
    if (row_is_finite(p.rows[r], count)) ok.push_back(r);
  return ok;
}

// out = sum_k w[k] * rows[picked[k]] with sum w = 1, in order.
void weighted_mean(const PeerRows& p, const std::vector<int>& picked, const std::vector<double>& w, size_t count,
                   float* out) {
  std::vector<float> wf(w.size());
  for (size_t k = 0; k < w.size(); ++k) wf[k] = static_cast<float>(w[k]);
  for (size_t i = 0; i < count; ++i) {
    float s = 0;
    for (size_t k = 0; k < picked.size(); ++k) s += wf[k] * p.rows[picked[k]][i];
    out[i] = s;
  }
}

class GeomedRule final : public NamedRule {
 public:
  GeomedRule(const std::string& name, double nu, int iters) : NamedRule(name), nu_(nu), iters_(iters) {}
  bool coordinatewise() const override { return false; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    const std::vector<int> ok = finite_rows(p, count);
    mean_of_rows(p.rows, ok.data(), static_cast<int>(ok.size()), count, out);  // the start: their mean
    if (ok.empty()) return;
    std::vector<double> w(ok.size());
    for (int it = 0; it < iters_; ++it) {
      double total = 0;
      for (size_t k = 0; k < ok.size(); ++k) {
        w[k] = 1.0 / std::max(nu_, std::sqrt(squared_distance(out, p.rows[ok[k]], count)));
        total += w[k];
      }
      if (!(total > 0) || !std::isfinite(total)) return;  // out itself went non-finite (overflow): keep it
      for (double& x : w) x /= total;
      weighted_mean(p, ok, w, count, out);
    }
  }

 private:
  double nu_;
  int iters_;
};

class CenteredClipRule final : public NamedRule {
 public:
  CenteredClipRule(const std::string& name, double tau, int iters) : NamedRule(name), tau_(tau), iters_(iters) {}
  bool coordinatewise() const override { return false; }
  // Fresh (nothing), or the last aggregate of `count` floats; no windows.
  std::string check_state(const RuleState& st, int) const override {
    if (st.center.size() != st.count || !st.windows.empty() || st.long_steps || st.short_steps)
      return concat_parts("robust=", name(), " keeps one center of count floats and no windows; the record holds ",
                          st.center.size(), " center floats for count ", st.count, ", ", st.windows.size(),
                          " window floats, window steps ", st.long_steps, "/", st.short_steps);
    return std::string();
  }
  void combine(const PeerRows& p, size_t count, float* out, RuleState& st, std::vector<int>&) const override {
    if (st.count != count || st.center.size() != count) {
      if (st.count) GW_LOG(INFO, "robust=", name(), ": the layer's count changed (", st.count, " -> ", count,
                           "); clipping starts again from zero");
      st.clear();
      st.count = count;
      st.center.assign(count, 0.0f);
    }
    std::vector<float>& v = st.center;
    if (!row_is_finite(v.data(), count)) std::fill(v.begin(), v.end(), 0.0f);  // never clip around NaN
    std::vector<double> c(static_cast<size_t>(p.m));
    const float inv_m = 1.0f / static_cast<float>(p.m);
    for (int it = 0; it < iters_; ++it) {
      for (int r = 0; r < p.m; ++r) {
        const double dist = std::sqrt(squared_distance(p.rows[r], v.data(), count));
        // Not finite: infinitely far, clipped to nothing (and never multiplied, as NaN * 0 is NaN).
        c[static_cast<size_t>(r)] = std::isinf(dist) ? 0.0 : dist <= tau_ ? 1.0 : tau_ / dist;
      }
      for (size_t i = 0; i < count; ++i) {
        float s = 0;
        for (int r = 0; r < p.m; ++r)
          if (c[static_cast<size_t>(r)] > 0) s += static_cast<float>(c[static_cast<size_t>(r)]) * (p.rows[r][i] - v[i]);
        out[i] = v[i] + s * inv_m;
      }
      std::copy(out, out + count, v.begin());
    }
  }

 private:
  double tau_;
  int iters_;
};

}  // namespace

std::unique_ptr<PeerRule> make_krum_rule(const std::string& name, int f, int select) {
  return std::unique_ptr<PeerRule>(new KrumRule(name, f, select));
}
std::unique_ptr<PeerRule> make_geomed_rule(const std::string& name, double nu, int iters) {
  return std::unique_ptr<PeerRule>(new GeomedRule(name, nu, iters));
}
std::unique_ptr<PeerRule> make_centered_clip_rule(const std::string& name, double tau, int iters) {
  return std::unique_ptr<PeerRule>(new CenteredClipRule(name, tau, iters));
}

}  // namespace gw
