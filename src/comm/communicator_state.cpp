// Checkpoints and statistics of the communicator's layers.
#include "src/comm/communicator.h"
#include "src/scheme/state_record.h"

namespace gw {

std::vector<uint8_t> Communicator::save_state(const char* name) { return save_state_record(layer(name)); }

void Communicator::load_state(const char* name, const uint8_t* buf, size_t size) {
  load_state_record(layer(name), buf, size, spec_of(name));
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
