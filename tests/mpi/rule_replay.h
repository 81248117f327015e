// Local replays of a robust rule (src/robust/peer_rule.h) over the inputs
// every rank can regenerate (mpi_test_util.h's make_input): what every rank
// of a robust call should get, for the MPI tests of the rules.
#pragma once

#include <vector>

#include "src/algo/exchange_order.h"
#include "src/common/hash.h"
#include "src/common/rng.h"
#include "src/config/config.h"
#include "src/robust/peer_rule.h"
#include "tests/mpi/mpi_test_util.h"

namespace gwtest {

// `rule` over the given rows of `ranks` (n floats each), locally.
inline std::vector<float> combine_rows(const gw::PeerRule& rule, const std::vector<const float*>& rows,
                                       const std::vector<int>& ranks, size_t n, uint64_t key, gw::RuleState& st,
                                       std::vector<int>& removed) {
  gw::PeerRows p;
  p.rows = rows.data();
  p.ranks = ranks.data();
  p.m = static_cast<int>(ranks.size());
  p.world = world_size();
  p.key = key;
  std::vector<float> out(n);
  rule.combine(p, n, out.data(), st, removed);
  return out;
}

// What every rank should get from `rule` over the inputs of the ranks in
// `ranks` (salt), replayed locally with the key the library derives for the
// layer's call `step` (bucketing's shuffle).
inline std::vector<float> replay(const gw::PeerRule& rule, const std::vector<int>& ranks, size_t n, uint32_t salt,
                                 const char* layer, uint64_t step, gw::RuleState& st, std::vector<int>& removed,
                                 float bias = 0, int attacker = -1) {
  std::vector<std::vector<float>> rows;
  std::vector<const float*> ptrs;
  for (int q : ranks) {
    rows.push_back(make_input(q, n, salt));
    if (q == attacker)
      for (float& x : rows.back()) x += bias;
  }
  for (const auto& row : rows) ptrs.push_back(row.data());
  const uint64_t key = gw::rng_derive_key(gw::parse_config("").seed, step, gw::fnv1a64(layer), gw::kRuleStream, 0);
  return combine_rows(rule, ptrs, ranks, n, key, st, removed);
}

}  // namespace gwtest
