// Error feedback around a layer's codec (scheme/scheme.h): the state a call
// needs, the EF21 aggregate step after it, and explicit resets.
#include "src/comm/communicator.h"
#include "src/common/log.h"

namespace gw {

LayerState& Communicator::bind_state(const Segment& s, size_t extra) {
  LayerState& st = s.layer->state;
  const std::string dropped = st.bind(s.scheme->spec, s.count, s.scheme->feedback, extra);
  if (!dropped.empty()) {
    s.layer->stats.state_resets++;
    GW_LOG(WARN, "layer '", s.layer->name, "': scheme state reset (", dropped, ")");
  }
  return st;
}

void Communicator::bind_feedback(CallPlan& plan, bool on_device) {
  if (plan.algorithm == Algorithm::kPlain) return;  // exact values: state is left as it is
  for (Segment& s : plan.segments) {
    const Feedback fb = s.scheme ? s.scheme->feedback : Feedback::kNone;
    if (fb == Feedback::kNone || s.count == 0 || s.codec->round_codec()) continue;  // round schemes bind their own
    GW_REQUIRE(!(fb == Feedback::kEf21 && plan.kind == CallKind::kAllgather), GW_ERR_INVALID_USAGE, "layer '",
               s.layer->name, "': ef=ef21 keeps an aggregate of a reduction; an allgather has none");
    LayerState& st = bind_state(s);
    s.feedback_state = on_device ? st.device() : st.host();  // moved over once, when the data moves
  }
}

void Communicator::finish_feedback(const CallPlan& plan, float* out, const CallResult& r, DataOps& ops) {
  if (r.local_nonfinite) return reset_feedback(plan, "NaN or Inf in this rank's input");
  // nonfinite=propagate: a peer's NaN is in the result, so in whatever state follows it.
  if (r.any_nonfinite) return reset_feedback(plan, "NaN or Inf in a peer's input reached the result", true);
  for (const Segment& s : plan.segments) {
    if (s.feedback() != Feedback::kEf21) continue;
    // EF21: the shared aggregate g (the state's second vector) moves by the
    // decoded mean of the c_i, and g is the result.
    ops.ef21_step(s.feedback_state + s.count, out + s.offset, s.count);
  }
}

void Communicator::reset_feedback(const CallPlan& plan, const char* why, bool shared_only) {
  for (const Segment& s : plan.segments) {
    if (!s.feedback_state) continue;
    if (shared_only && s.feedback() != Feedback::kEf21 && !s.codec->round_codec()) continue;
    s.layer->state.zero();
    s.layer->stats.state_resets++;
    GW_LOG(WARN, "layer '", s.layer->name, "': error-feedback state reset (", why, ")");
  }
}

}  // namespace gw
