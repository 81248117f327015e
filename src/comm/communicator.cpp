#include "src/comm/communicator.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "src/algo/plain_collective.h"
#include "src/comm/dtype.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/common/log.h"
#include "src/spec/registry.h"

namespace gw {

Communicator::Communicator(std::unique_ptr<Transport> transport, Config config)
    : transport_(std::move(transport)), config_(std::move(config)), rule_(make_peer_rule(config_.robust)) {
  set_log_rank(transport_->rank());
  attack_ = Attack::make(config_.attack, transport_->size());
  if (attack_ && attack_->on_wire() && attack_->attacks(rank()))
    transport_ = make_wire_attack_transport(std::move(transport_), attack_->wire(), config_.seed);
  if (attack_)
    GW_LOG(WARN, "attack=", attack_->name(), ": ", attack_->attacks(rank()) ? "this rank ATTACKS" : "this rank is honest",
           " (a test and benchmark harness, never for training that matters)");
  GW_LOG(INFO, "communicator created: transport ", transport_->name(), ", ", transport_->size(), " ranks, ",
         config_.describe());
}

Communicator::Communicator(std::unique_ptr<StreamTransport> transport, Config config)
    : stream_transport_(std::move(transport)), config_(std::move(config)) {
  set_log_rank(stream_transport_->rank());
  stream_ = make_stream_collective(stream_transport_->device());
  GW_REQUIRE(stream_ != nullptr, GW_ERR_UNSUPPORTED, "stream-ordered transports need a build with CUDA");
  GW_REQUIRE(config_.robust == "none", GW_ERR_UNSUPPORTED, "robust=", config_.robust,
             " does not run on the stream-ordered (NCCL) path yet; use the MPI transport");
  GW_REQUIRE(config_.attack == "none", GW_ERR_UNSUPPORTED, "attack=", config_.attack,
             " (the test harness) runs on the MPI transport only");
  GW_LOG(INFO, "communicator created: transport ", stream_transport_->name(), ", ", stream_transport_->size(),
         " ranks, ", config_.describe());
}

void Communicator::check_state(bool probe_peers) {
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the communicator is broken (", broken_reason_,
             "); destroy it and create a new one");
  if (transport_) {
    if (!probe_peers) return;
    try {
      transport_->check_peers("this call");  // a peer abandoned a call since the last one
    } catch (const Error& e) {
      note_broken(e);
      throw;
    }
    return;
  }
  try {
    stream_->check_async();
    std::string e = stream_transport_->async_error();
    if (!e.empty()) fail(GW_ERR_SYSTEM, stream_transport_->name(), " reported an asynchronous error: ", e);
  } catch (const Error& e) {
    note_broken(e);
    throw;
  }
}

void Communicator::note_broken(const Error& e) {
  broken_ = true;
  broken_reason_ = clip_text(e.what(), 400);
}

Communicator::~Communicator() {
  if (broken_ || (transport_ && transport_->broken())) {
    // Requests that timed out may still land in the workspace: keep it alive.
    new Workspace(std::move(ws_));
  }
}

Layer& Communicator::layer(const std::string& name) {
  auto it = layers_.find(name);
  if (it != layers_.end()) return *it->second;
  std::unique_ptr<Layer> l(new Layer());
  l->name = name;
  l->name_hash = fnv1a64(name);
  Layer& ref = *l;
  layers_.emplace(name, std::move(l));
  return ref;
}

void Communicator::allreduce(const std::vector<LayerRef>& refs, const void* send, void* recv, size_t total,
                             gw_dtype dtype, gw_op op, void* stream) {
  if (attack_ && !(refs.size() == 1 && is_internal_layer(refs[0].name))) send = attack_input(send, total, dtype);
  CallPlan plan;
  plan.kind = CallKind::kAllreduce;
  plan.op = op;
  plan.dtype = dtype;
  plan.total = total;
  for (const LayerRef& r : refs) {
    Segment s = segment_for(r.name, r.offset, r.count, dtype);
    s.rule = s.layer->rule_set ? s.layer->rule : rule_;
    if (s.rule) s.rule_state = &s.layer->rule_state;
    plan.segments.push_back(std::move(s));
  }
  plan.excluded = excluded_;
  plan_adaptive(plan, send);
  run(plan, send, recv, total, total, stream);
}

void Communicator::allgather(const char* name, const void* send, void* recv, size_t count, gw_dtype dtype,
                             void* stream) {
  CallPlan plan;
  plan.kind = CallKind::kAllgather;
  plan.op = GW_SUM;
  plan.dtype = dtype;
  plan.total = count;
  plan.segments.push_back(segment_for(name, 0, count, dtype));
  plan_adaptive(plan, send);
  run(plan, send, recv, count, count * static_cast<size_t>(size()), stream);
}

std::string Communicator::describe_call(const CallPlan& plan, uint64_t seq) const {
  if (plan.segments.size() == 1)
    return concat_parts(plan.kind == CallKind::kAllreduce ? "allreduce" : "allgather", " of layer '",
                        plan.segments[0].layer->name, "' (call #", seq, ")");
  return concat_parts("allreduce of ", plan.segments.size(), " layers starting at '",
                      plan.segments.empty() ? "" : plan.segments[0].layer->name, "' (call #", seq, ")");
}

template <typename Run>
void Communicator::account(CallPlan& plan, Run&& run) {
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t seq = seq_++;
  CallResult result;
  const std::string what = describe_call(plan, seq);
  try {
    result = run(seq, what);
    // A peer that gave this call up (timed out, or found our message bad in
    // its last exchange) may have told us by now: its result is not to be kept.
    if (transport_) transport_->check_peers(what);
  } catch (const Error& e) {
    for (Segment& s : plan.segments) s.layer->step++;
    reset_feedback(plan, "the call failed");  // its feedback update may be partial
    for (Segment& s : plan.segments)
      if (s.rule_state) s.rule_state->clear();  // so may a rule's (peers that saw no failure: rule_state.calls)
    // Peers may have completed the call this rank gave up: tell them.
    if (e.status() == GW_ERR_TIMEOUT && transport_) transport_->abandon(seq, GW_ERR_TIMEOUT);
    if (e.status() == GW_ERR_TIMEOUT || (transport_ && transport_->broken())) note_broken(e);
    // Headers carry only fingerprints: name this rank's side of a disagreement
    // in words (the call's own plan, whatever codec its exchange ran with).
    if (e.status() == GW_ERR_MISMATCH)
      throw Error(e.status(), concat_parts(e.what(), "; this rank (", rank(), ") has ", describe_plan(plan)));
    throw;
  }
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    Segment& s = plan.segments[i];
    LayerStats st = result.per_segment[i];
    st.calls = 1;
    st.elements = s.count;
    st.bytes_input = s.count * dtype_size(plan.dtype);
    st.total_s = plan.total ? total_s * static_cast<double>(s.count) / plan.total : total_s / plan.segments.size();
    s.layer->stats.add(st);
    s.layer->step++;
    if (s.rule_state) s.rule_state->calls++;
  }
  if (!result.removed.empty()) exclude_for_good(result.removed, "found by a rule in " + what);
}

void Communicator::exclude_for_good(const std::vector<int>& ranks, const std::string& source) {
  for (int r : ranks) {
    if (std::find(excluded_.begin(), excluded_.end(), r) != excluded_.end()) continue;
    excluded_.insert(std::upper_bound(excluded_.begin(), excluded_.end(), r), r);
    GW_LOG(WARN, "robust: rank ", r, " left the good set for good (", source, "; ", excluded_.size(), " of ",
           size(), " ranks excluded); its payloads are still checked and no longer combined");
  }
}

void Communicator::execute(CallPlan& plan, const float* in, float* out, DataOps& ops) {
  account(plan, [&](uint64_t seq, const std::string& what) {
    if (plan.algorithm == Algorithm::kPlain)
      return run_plain_collective(*transport_, ws_, ops, plan, config_, seq, in, out, what);
    CallResult r = has_round_layers(plan) ? run_rounds(plan, seq, in, out, ops, what)
                                          : run_collective(*transport_, ws_, ops, plan, config_, seq, in, out, what);
    finish_feedback(plan, out, r, ops);
    return r;
  });
}

void Communicator::run_stream(CallPlan& plan, const void* send, void* recv, void* stream) {
  // Asking the driver costs a microsecond a pointer; training loops pass the same buffers again.
  if (plan.total > 0 && !(send == last_send_ && recv == last_recv_ && last_send_dev_ && last_recv_dev_)) {
    GW_REQUIRE(is_device_pointer(send) && is_device_pointer(recv), GW_ERR_INVALID_ARGUMENT, "the ",
               stream_transport_->name(), " transport takes device buffers (send and recv must be CUDA memory)");
    last_send_ = send;
    last_recv_ = recv;
    last_send_dev_ = last_recv_dev_ = true;
  }
  // Statistics count bytes; times are the host's enqueue times (nothing waits for the device).
  const bool check = plan_needs_check(plan, config_);
  account(plan, [&](uint64_t seq, const std::string& what) {
    return stream_->run(*stream_transport_, plan, config_, seq, send, recv, stream, what, check);
  });
  if (check) note_plan_checked(plan, true);  // a disagreement threw above
}

}  // namespace gw
