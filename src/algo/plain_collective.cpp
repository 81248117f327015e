#include "algo/plain_collective.h"

#include <chrono>
#include <cstring>
#include <memory>

#include "algo/exchange_tags.h"
#include "common/error.h"

namespace gw {
namespace {

using Clock = std::chrono::steady_clock;

// Exchange 0 with empty payloads: every rank's header to every peer. Returns the
// local failure, if any (the caller decides how to stop).
std::unique_ptr<Error> check_plans(Transport& t, Workspace& ws, const CallPlan& plan, const Config& cfg,
                                   uint64_t seq, const std::string& what, uint64_t* sent, uint64_t* received) {
  const int rank = t.rank(), n = t.size();
  Workspace::MessageSet& set = ws.sets[0][0];
  if (!set.batch) set.batch = t.new_batch();
  set.send.resize(1);
  set.recv.resize(n);
  uint8_t* mine = set.send[0].reserve(sizeof(MessageHeader), ws.pinned);
  write_header(mine, plan.fingerprint, seq, 0, rank, 0, GW_SUCCESS, 0, cfg.checksum);
  Batch& b = *set.batch;
  b.ops.clear();
  for (int peer = 0; peer < n; ++peer) {
    if (peer == rank) continue;
    P2POp recv;
    recv.buf = set.recv[peer].reserve(sizeof(MessageHeader), ws.pinned);
    recv.bytes = sizeof(MessageHeader);  // a compressed peer's longer message arrives truncated
    recv.peer = peer;
    recv.tag = exchange_tag(0);
    b.ops.push_back(recv);
    P2POp send = recv;
    send.is_send = true;
    send.buf = mine;
    b.ops.push_back(send);
  }
  t.start(b);
  t.wait(b, cfg.timeout_s, what);  // a timeout throws: the comm is broken
  std::unique_ptr<Error> failure;
  for (const P2POp& op : b.ops) {
    if (op.is_send) *sent += op.bytes;
    else *received += op.received;
    if (failure) continue;
    try {
      if (!op.error.empty()) fail(GW_ERR_SYSTEM, (op.is_send ? "sending to" : "receiving from"), " rank ", op.peer,
                                  " failed: ", op.error);
      if (!op.is_send)
        validate_message(static_cast<const uint8_t*>(op.buf), op.received, op.peer, rank, plan.fingerprint, seq,
                         0, 0, cfg.checksum, what, op.truncated);
    } catch (const Error& e) {
      failure.reset(new Error(e));
    }
  }
  return failure;
}

}  // namespace

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
  CallResult result;
  result.per_segment.resize(plan.segments.size());
  uint64_t sent = 0, received = 0;
  const auto t0 = Clock::now();
  const bool check = plan_needs_check(plan, cfg);
  std::unique_ptr<Error> failure;
  if (check) failure = check_plans(t, ws, plan, cfg, seq, what, &sent, &received);
  // Every rank sees a disagreement (everyone heard from everyone), and their
  // plain collectives would not match: stop here, the communicator stays usable.
  if (failure && failure->status() == GW_ERR_MISMATCH) throw *failure;

  const int n = t.size();
  int flag = failure ? t.rank() + 1 : 0;  // max over ranks names one failing rank
  int* flag_arg = check ? &flag : nullptr;  // reduced only where the check ran (on every rank alike)
  if (plan.kind == CallKind::kAllgather) {
    t.plain_allgather(in, out, plan.total * sizeof(float), flag_arg, cfg.timeout_s, what);
  } else {
    t.plain_allreduce_sum(in, out, merged_ranges(plan), flag_arg, cfg.timeout_s, what);
    if (plan.op == GW_AVG && n > 1)
      for (const Segment& s : plan.segments) ops.scale(out + s.offset, s.count, 1.0f / static_cast<float>(n));
  }
  note_plan_checked(plan, !failure && !flag);
  if (failure) throw *failure;
  if (flag)
    fail(GW_ERR_REMOTE, "rank ", flag - 1, " failed the plan check of ", what,
         " (see its log); the call was abandoned on every rank");

  // What a ring algorithm moves: 2(n-1)/n of the input for allreduce, (n-1)
  // inputs for allgather; the headers of the plan check go to the first layer.
  const double comm_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double share = plan.kind == CallKind::kAllgather ? n - 1.0 : 2.0 * (n - 1) / n;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    LayerStats& st = result.per_segment[i];
    st.bytes_sent = static_cast<uint64_t>(share * plan.segments[i].count * sizeof(float));
    st.bytes_received = st.bytes_sent;
    st.comm_s = plan.total ? comm_s * plan.segments[i].count / plan.total : comm_s / plan.segments.size();
  }
  if (!result.per_segment.empty()) {
    result.per_segment[0].bytes_sent += sent;
    result.per_segment[0].bytes_received += received;
  }
  return result;
}

}  // namespace gw
