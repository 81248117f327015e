// Bucketing in front of any rule: the rows are shuffled with the call's
// shared key (the same permutation on every rank), averaged in buckets of s,
// and the base rule runs over the bucket means. Averaging first shrinks the
// spread of honest rows that non-IID data causes, which robust rules otherwise
// mistake for attacks (Karimireddy, He, Jaggi, ICLR 2022).
#include <vector>

#include "src/common/rng.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"

namespace gw {
namespace {

class BucketedRule final : public NamedRule {
 public:
  BucketedRule(const std::string& name, std::unique_ptr<PeerRule> base, int s)
      : NamedRule(name), base_(std::move(base)), s_(s) {}
  bool coordinatewise() const override { return base_->coordinatewise(); }
  std::string check_state(const RuleState& st, int world) const override { return base_->check_state(st, world); }
  void combine(const PeerRows& p, size_t count, float* out, RuleState& st, std::vector<int>& removed) const override {
    std::vector<int> order(static_cast<size_t>(p.m));
    for (int k = 0; k < p.m; ++k) order[static_cast<size_t>(k)] = k;
    for (int k = p.m - 1; k > 0; --k) {  // Fisher-Yates, keyed: every rank draws the same
      const int j = static_cast<int>(rng_u32(p.key, static_cast<uint32_t>(k)) % static_cast<uint32_t>(k + 1));
      std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(j)]);
    }
    const int buckets = (p.m + s_ - 1) / s_;
    thread_local std::vector<float> means;
    means.resize(static_cast<size_t>(buckets) * count);
    std::vector<const float*> rows(static_cast<size_t>(buckets));
    std::vector<int> ids(static_cast<size_t>(buckets));
    for (int b = 0; b < buckets; ++b) {
      const int first = b * s_, k = std::min(s_, p.m - first);
      float* row = means.data() + static_cast<size_t>(b) * count;
      mean_of_rows(p.rows, order.data() + first, k, count, row);
      rows[static_cast<size_t>(b)] = row;
      ids[static_cast<size_t>(b)] = b;
    }
    PeerRows q;
    q.rows = rows.data();
    q.ranks = ids.data();
    q.m = buckets;
    q.world = buckets;
    q.key = p.key;
    base_->combine(q, count, out, st, removed);
  }

 private:
  std::unique_ptr<PeerRule> base_;
  int s_;
};

}  // namespace

std::unique_ptr<PeerRule> make_bucketed_rule(const std::string& name, std::unique_ptr<PeerRule> base, int s) {
  return std::unique_ptr<PeerRule>(new BucketedRule(name, std::move(base), s));
}

}  // namespace gw
