#include "src/algo/plain_collective.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "src/spec/registry.h"
#include "src/common/error.h"

namespace gw {

std::vector<std::pair<size_t, size_t>> merged_ranges(const CallPlan& plan) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const Segment& s : plan.segments) {
    if (s.count == 0) continue;
    if (!out.empty() && out.back().first + out.back().second == s.offset) out.back().second += s.count;
    else out.emplace_back(s.offset, s.count);
  }
  return out;
}

bool plan_needs_check(const CallPlan& plan, const Config& cfg) {
  bool check = cfg.plain_check_every;
  for (const Segment& s : plan.segments)
    check |= !s.layer->plain_checked_valid ||
             std::memcmp(&s.layer->plain_checked, &plan.fingerprint, sizeof(PlanFingerprint)) != 0;
  return check;
}

void note_plan_checked(const CallPlan& plan, bool agreed) {
  for (const Segment& s : plan.segments) {
    s.layer->plain_checked = plan.fingerprint;
    s.layer->plain_checked_valid = agreed;
  }
}

CallResult run_plain_collective(Transport& t, Workspace& ws, DataOps& ops, const CallPlan& plan,
                                const Config& cfg, uint64_t seq, const float* in, float* out,
                                const std::string& what) {
  GW_REQUIRE(plan.algorithm == Algorithm::kPlain, GW_ERR_INTERNAL, "plain collective given another plan");
  static const std::shared_ptr<const Compressor> identity = make_compressor("none");
  CallPlan& raw = ws.plain_plan;  // reused: assignment keeps the vectors' capacity
  raw = plan;
  for (Segment& s : raw.segments) {  // exact values: feedback state stays as it is
    s.codec = identity;
    s.traits = identity->traits();
    s.feedback_state = nullptr;
  }
  raw.algorithm = Algorithm::kAllgather;
  if (raw.rounds.size() != 1) {  // fallback_bytes above chunk_bytes: still one exchange
    build_rounds(raw, std::max<size_t>(plan.total, 1));
    // The call's own fingerprint (real specs, algorithm "plain"): a peer that
    // planned otherwise is a mismatch, whatever the identity codec would say.
    raw.fingerprint = plan.fingerprint;
  }
  return run_collective(t, ws, ops, raw, cfg, seq, in, out, what);
}

}  // namespace gw
