#include "src/algo/plan.h"

#include <algorithm>

#include "src/common/error.h"
#include "src/common/hash.h"

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
      size_t take = seg.traits.whole_layer ? seg.count : std::min({seg.count - done, kPieceElems, room});
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
    lh = hash_value(static_cast<uint64_t>(seg.layer->name.size()), lh);  // "ab"+"c" is not "a"+"bc"
    lh = fnv1a64(seg.layer->name, lh);
    lh = hash_value(static_cast<uint64_t>(seg.offset), lh);
    lh = hash_value(static_cast<uint64_t>(seg.count), lh);
    sh = hash_value(static_cast<uint64_t>(seg.spec().size()), sh);
    sh = fnv1a64(seg.spec(), sh);
    if (seg.rule) {  // ranks that combine differently must not get different results silently
      sh = hash_value(static_cast<uint64_t>(seg.rule->name().size()), sh);
      sh = fnv1a64(seg.rule->name(), sh);
      if (seg.rule_state) sh = hash_value(seg.rule_state->calls, sh);
    }
  }
  for (int r : plan.excluded) sh = hash_value(static_cast<uint64_t>(r) + 1, sh);  // and on whom they leave out
  fp.layers_hash = lh;
  fp.specs_hash = sh;
}

std::string describe_plan(const CallPlan& plan) {
  constexpr size_t kShown = 4;  // layers named in full; the rest are counted
  std::string layers, specs;
  for (size_t i = 0; i < plan.segments.size() && i < kShown; ++i) {
    const Segment& s = plan.segments[i];
    layers += concat_parts(i ? ", '" : "'", clip_text(s.layer->name), "' [", s.offset, ", +", s.count, ")");
    specs += concat_parts(i ? ", '" : "'", clip_text(s.spec()), "'", s.rule ? " robust=" : "",
                          s.rule ? s.rule->name() : "");
  }
  if (plan.segments.size() > kShown) {
    const std::string more = concat_parts(" and ", plan.segments.size() - kShown, " more");
    layers += more;
    specs += more;
  }
  return concat_parts("layers ", layers, "; specs ", specs);
}

}  // namespace gw
