// The small-message path (calls of at most fallback_bytes): latency-bound, so
// compressing gains nothing. On host transports it is the allgather-based
// algorithm of the compressed path with the identity codec, in one exchange:
// every rank sends its raw values to every peer in one message with the usual
// header (plan fingerprint with the layers' real specs, CRC32C) and sums what
// it receives in rank order. Small calls therefore keep every guarantee of the
// compressed ones: a disagreement (even with a rank that took the compressed
// path for a larger count) is GW_ERR_MISMATCH on every rank in exchange 0,
// damaged bytes are GW_ERR_CORRUPT naming the sender, NaN/Inf follow
// `nonfinite`, a timeout names the rank that never arrived, nothing writes
// into any buffer after the call returned, and every rank gets the same bits.
// One exchange is one latency at any number of ranks (recursive doubling took
// log2 n); it sends n-1 copies of the input per rank, which is small by definition.
//
// Stream-ordered transports (NCCL) use their own collective for these calls,
// after a plan check on a layer's first call or changed plan (below).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "src/algo/collective.h"

namespace gw {

// The element ranges a call writes: every layer's, adjacent ones merged (a DDP
// bucket is one range), as (first element, count).
std::vector<std::pair<size_t, size_t>> merged_ranges(const CallPlan& plan);

// Stream-ordered path: the plan check costs a round trip (as much as a small
// collective itself), so by default it runs when some layer's plan is new or has changed since its
// last agreed check (all ranks change together in a correct program, so all
// check together); plan_check=every checks every call.
bool plan_needs_check(const CallPlan& plan, const Config& config);
// Records the outcome of a check for the call's layers.
void note_plan_checked(const CallPlan& plan, bool agreed);

// plan.algorithm must be Algorithm::kPlain; in/out live where `ops` works.
CallResult run_plain_collective(Transport& transport, Workspace& ws, DataOps& ops, const CallPlan& plan,
                                const Config& config, uint64_t seq, const float* in, float* out,
                                const std::string& what);

}  // namespace gw
