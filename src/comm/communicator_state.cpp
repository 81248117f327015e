// Checkpoints and statistics of the communicator's layers.
#include "src/comm/communicator.h"
#include "src/scheme/state_record.h"

namespace gw {

// The rule a layer's calls use now (null: the running sum); its rule state is
// saved under its name, with the communicator's excluded set (a checkpoint
// holds only layer records: those of layers with a rule carry the set).
std::vector<uint8_t> Communicator::save_state(const char* name) {
  Layer& l = layer(name);
  ExcludedRanks excluded;
  excluded.world = size();
  excluded.ranks = excluded_;
  return save_state_record(l, l.rule_set ? l.rule.get() : rule_.get(), excluded);
}

// The ranks the record lists join the excluded set (a union: every layer's
// record carries the same set). Peers that load another set are caught by
// the plan fingerprint, which hashes the set: GW_ERR_MISMATCH at the next call.
void Communicator::load_state(const char* name, const uint8_t* buf, size_t size) {
  Layer& l = layer(name);
  const std::vector<int> listed = load_state_record(l, buf, size, spec_of(name),
                                                    l.rule_set ? l.rule.get() : rule_.get(), this->size(), excluded_);
  exclude_for_good(listed, concat_parts("listed by the checkpoint loaded into layer '", clip_text(l.name), "'"));
}

namespace {
LayerStats with_state(const Layer& l) {
  LayerStats s = l.stats;
  s.state_bytes = l.state.bytes() + l.rule_state.bytes();
  return s;
}
}  // namespace

LayerStats Communicator::layer_stats(const char* name) const {
  auto it = layers_.find(name);
  GW_REQUIRE(it != layers_.end(), GW_ERR_INVALID_ARGUMENT, "no layer named '", name, "' on this communicator");
  return with_state(*it->second);
}

LayerStats Communicator::total_stats() const {
  LayerStats total;
  for (auto& kv : layers_)
    if (kv.first != kAttackLayer) total.add(with_state(*kv.second));  // the harness's traffic, not the algorithm's
  total.ranks_excluded = excluded_.size();
  return total;
}

void Communicator::reset_stats() {
  for (auto& kv : layers_) kv.second->stats = LayerStats();
}

}  // namespace gw
