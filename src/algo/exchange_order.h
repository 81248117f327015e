// The exchanges of one planned call, in the order every rank runs them, shared
// by the host algorithms (collective.cpp) and the stream-ordered one
// (stream_collective.cu), so both put the same exchange index in each header
// and the same RNG keys in each payload.
//
//   allgather:  A0 A1 A2 ...                one exchange per round
//   SRA:        S0 S1 G0 S2 G1 ... G(R-1)   scatter of round r+1 overlaps the
//                                           owner's reduction and gather of round r
#pragma once

#include <cstdint>
#include <vector>

#include "src/algo/plan.h"
#include "src/common/rng.h"

namespace gw {

// RNG stream of the SRA owner's re-encode (the gather), apart from the scatter's.
constexpr uint64_t kPhaseGather = 1ull << 62;
// Keys a peer rule's shared randomness (bucketing's shuffle), apart from every encode's.
constexpr uint64_t kRuleStream = 0x726f62757374ull;  // "robust"

enum class ExType { kAllgather, kScatter, kGather };

struct Exchange {
  ExType type;
  int round;
  int set_kind() const { return type == ExType::kGather ? 1 : 0; }  // which buffer set it uses
  int parity() const { return round & 1; }                           // double buffering
};

// Into `ex` (cleared first; its capacity is reused call after call).
inline void exchange_order(const CallPlan& plan, std::vector<Exchange>& ex) {
  ex.clear();
  const bool sra = plan.algorithm == Algorithm::kSra;
  const int rounds = static_cast<int>(plan.rounds.size());
  for (int r = 0; r < rounds; ++r) {
    if (!sra) {
      ex.push_back({ExType::kAllgather, r});
      continue;
    }
    ex.push_back({ExType::kScatter, r});
    if (r >= 1) ex.push_back({ExType::kGather, r - 1});
  }
  if (sra && rounds > 0) ex.push_back({ExType::kGather, rounds - 1});
}

inline std::vector<Exchange> exchange_order(const CallPlan& plan) {
  std::vector<Exchange> ex;
  exchange_order(plan, ex);
  return ex;
}

// Values of piece p that a message of exchange e carries: all of them
// (allgather), or SRA part `part`.
inline size_t piece_count(const Exchange& e, const Piece& p, int part, int n) {
  if (e.type == ExType::kAllgather) return p.count;
  size_t first, count;
  piece_part(p, part, n, &first, &count);
  return count;
}

// The RNG key of the values [first, ...) of segment seg that `rank` encodes
// (phase: 0, or kPhaseGather for the SRA owner's re-encode). Codecs with shared
// keys (randomk) get rank 0's on every rank.
inline uint64_t piece_key(uint64_t seed, const Segment& seg, int rank, size_t first, uint64_t phase) {
  return rng_derive_key(seed, seg.layer->step, seg.layer->name_hash,
                        static_cast<uint64_t>(seg.traits.shared_key ? 0 : rank),
                        (first - seg.offset) | phase);
}

}  // namespace gw
