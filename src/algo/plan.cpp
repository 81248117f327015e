#include "algo/plan.h"

#include <algorithm>

#include "common/hash.h"

namespace gw {

void build_rounds(CallPlan& plan, size_t chunk_elems) {
  plan.rounds.clear();
  chunk_elems = std::max<size_t>(chunk_elems, 1);
  Round current;
  size_t in_round = 0;
  for (uint32_t s = 0; s < plan.segments.size(); ++s) {
    const Segment& seg = plan.segments[s];
    for (size_t done = 0; done < seg.count;) {
      size_t room = chunk_elems - in_round;
      size_t take = std::min({seg.count - done, kPieceElems, room});
      current.pieces.push_back(Piece{s, seg.offset + done, take});
      done += take;
      in_round += take;
      if (in_round >= chunk_elems) {
        plan.rounds.push_back(std::move(current));
        current = Round();
        in_round = 0;
      }
    }
  }
  if (!current.pieces.empty() || plan.rounds.empty()) plan.rounds.push_back(std::move(current));

  PlanFingerprint& fp = plan.fingerprint;
  fp.kind = static_cast<uint8_t>(plan.kind);
  fp.op = static_cast<uint8_t>(plan.op);
  fp.dtype = static_cast<uint8_t>(plan.dtype);
  fp.algorithm = static_cast<uint8_t>(plan.algorithm);
  fp.num_layers = static_cast<uint32_t>(plan.segments.size());
  fp.count = plan.total;
  fp.chunk_elems = chunk_elems;
  uint64_t lh = 1469598103934665603ull, sh = 1469598103934665603ull;
  for (const Segment& seg : plan.segments) {
    lh = fnv1a64(seg.layer->name, lh);
    lh = hash_value(static_cast<uint64_t>(seg.offset), lh);
    lh = hash_value(static_cast<uint64_t>(seg.count), lh);
    sh = fnv1a64(seg.codec->spec(), sh);
  }
  fp.layers_hash = fold32(lh);
  fp.specs_hash = fold32(sh);
}

}  // namespace gw
