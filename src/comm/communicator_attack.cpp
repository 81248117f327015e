// The attack harness's side of a call (config attack=, tests and benchmarks
// only): what an attacking rank sends instead of its input.
#include "src/comm/communicator.h"
#include "src/common/rng.h"

namespace gw {

namespace {
constexpr uint64_t kAttackStream = 0x61747461636bull;  // "attack": apart from every encode's and the rules' keys
}  // namespace

const void* Communicator::attack_input(const void* send, size_t total, gw_dtype dtype) {
  if (total == 0 || attack_->on_wire()) return send;  // wire kinds: the wrapped transport attacks
  GW_REQUIRE(dtype == GW_FLOAT32, GW_ERR_UNSUPPORTED, "attack=", attack_->name(), " attacks float32 calls only");
  GW_REQUIRE(!is_device_pointer(send), GW_ERR_UNSUPPORTED, "attack=", attack_->name(), " attacks host buffers only");
  const float* all = nullptr;
  if (attack_->omniscient()) {  // every rank shares its raw input: the attackers see the honest ones
    attack_all_.resize(total * static_cast<size_t>(size()));
    if (layer(kAttackLayer).spec_override.empty()) set_spec(kAttackLayer, "none");
    allgather(kAttackLayer, send, attack_all_.data(), total, GW_FLOAT32, nullptr);
    all = attack_all_.data();
  }
  const uint64_t key = rng_derive_key(config_.seed, attack_calls_++, kAttackStream, static_cast<uint64_t>(rank()), 0);
  if (!attack_->attacks(rank())) return send;
  const float* in = static_cast<const float*>(send);
  attack_send_.assign(in, in + total);
  attack_->apply(attack_send_.data(), total, all, key);
  return attack_send_.data();
}

}  // namespace gw
