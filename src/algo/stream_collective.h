// The compressed collective on a stream-ordered transport (NCCL): the same
// plan, pieces, RNG keys and wire format (header + payload) as the host
// algorithms, so payloads are byte-identical to a CPU rank's, but everything —
// encode, header, exchange, header check, decode — is enqueued on the caller's
// stream (and a side stream for the exchanges) without the host ever waiting.
//
// Algorithms: allgather-based (each rank's encoded round to everyone by the
// transport's allgather), and SRA (exchange_order.h: each rank's part j of a
// round to rank j by the transport's alltoall — grouped ncclSend/ncclRecv —
// the owner adds the decoded parts to its own raw part, re-encodes it, and an
// allgather brings every reduced part to everyone).
//
// Pipelining: one exchange is on the wire (side stream) while the next is
// encoded on the caller's stream; events order them, and two buffer sets per
// kind of exchange alternate.
// Consecutive calls are ordered by an event, whatever streams they use.
//
// Validation on the device: each round's received headers are checked by a
// kernel against the local plan. A mismatch (or NaN/Inf under
// nonfinite=error) is recorded in mapped host memory, and every later output
// of the communicator is filled with NaN; the host sees the failure, without
// synchronizing, at the next call or gw_comm_get_state() (NCCL's async-error
// model).
//
// Plan check: ranks whose message sizes differ (different counts or specs)
// cannot be caught on the device, because NCCL itself would hang first. So
// when a layer's plan is new or has changed (plan_needs_check), the call first
// gathers every rank's bare header (fixed size) and waits for the stream once
// to compare them on the host: a disagreement is GW_ERR_MISMATCH on every rank,
// and the communicator stays usable. Training loops pay this once per layer;
// later calls never wait. A rank that alone changes a plan later still meets
// peers that skip the check (plan_check=every closes that gap, at one host
// wait per call) — see the README.
#pragma once

#include <memory>
#include <string>

#include "src/algo/collective.h"
#include "src/algo/plan.h"
#include "src/config/config.h"
#include "transports/stream_transport.h"

namespace gw {

class StreamCollective {
 public:
  virtual ~StreamCollective() = default;
  // Enqueues the call; in/out are device buffers of plan.dtype (fp32 unless
  // the plan is plain). Returns the byte counts (timings are not measured:
  // nothing waits for the device).
  // check_plan: first confirm the plan with every rank, waiting for the stream
  // (see above); a disagreement throws GW_ERR_MISMATCH on every rank.
  virtual CallResult run(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq,
                         const void* in, void* out, void* stream, const std::string& what, bool check_plan) = 0;
  // Throws the first failure the device recorded in an earlier call.
  virtual void check_async() = 0;
};

// Resources on CUDA device `device`; null without CUDA in the build.
std::unique_ptr<StreamCollective> make_stream_collective(int device);

}  // namespace gw
