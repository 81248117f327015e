// The small-message path: below `fallback_bytes` a call is latency-bound, and
// the transport's own uncompressed collective (MPI_Allreduce, ...) is the
// fastest thing there is. Before it runs, the ranks exchange bare message
// headers (the plan check of exchange 0 of the compressed algorithms, with no
// payload), so a rank whose count, spec, dtype, op or layer differs — even one
// that chose the compressed path for its larger count — is GW_ERR_MISMATCH on
// every rank instead of a plain collective with mismatched arguments (undefined
// behaviour in MPI: a hang or memory corruption). A rank that fails the check
// for another reason (damaged header) still joins the plain collective and
// raises its flag there, so no rank waits for it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "algo/collective.h"

namespace gw {

// The element ranges a call writes: every layer's, adjacent ones merged (a DDP
// bucket is one range), as (first element, count).
std::vector<std::pair<size_t, size_t>> merged_ranges(const CallPlan& plan);

// The plan check costs a round trip (as much as a small collective itself), so
// by default it runs when some layer's plan is new or has changed since its
// last agreed check (all ranks change together in a correct program, so all
// check together); plan_check=every checks every call.
bool plan_needs_check(const CallPlan& plan, const Config& config);
// Records the outcome of a check for the call's layers.
void note_plan_checked(const CallPlan& plan, bool agreed);

// plan.algorithm must be Algorithm::kPlain; in/out are host memory (fp32).
CallResult run_plain_collective(Transport& transport, Workspace& ws, DataOps& ops, const CallPlan& plan,
                                const Config& config, uint64_t seq, const float* in, float* out,
                                const std::string& what);

}  // namespace gw
