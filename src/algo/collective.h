// Runs one planned collective over a transport: the allgather-based algorithm
// (encode -> exchange with every peer -> decode each) and scatter-reduce-
// allgather (SRA: exchange encoded parts -> owner reduces its part -> owner
// re-encodes -> exchange -> decode), both pipelined over the plan's rounds.
//
// Error protocol (no rank is left waiting): exchange 0 completes and is
// validated before anything else starts, so ranks whose plans differ (count,
// spec, dtype, ...) all see the mismatch there and stop together. A rank that
// fails later (corrupt payload) keeps taking part, marking its next messages
// "abort"; every rank stops after the exchange that carries the abort, and the
// exchanges already under way are drained. A peer that never answers is
// GW_ERR_TIMEOUT from the transport.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "algo/plan.h"
#include "comm/config.h"
#include "transport.h"

namespace gw {

// Grow-only buffers reused call after call (no allocation once warm).
struct Workspace {
  struct MessageSet {
    std::vector<std::vector<uint8_t>> send;  // one per peer (SRA scatter) or one for all
    std::vector<std::vector<uint8_t>> recv;  // one per peer
    std::unique_ptr<Batch> batch;
  };
  MessageSet sets[2][2];  // [scatter/allgather, gather-back][round parity]
  std::vector<float> in32, out32;  // fp16/bf16 calls work in fp32
};

struct CallResult {
  std::vector<LayerStats> per_segment;  // stats of this call, one per plan segment
};

// Throws gw::Error on failure (after the protocol above has run its course).
CallResult run_collective(Transport& transport, Workspace& ws, const CallPlan& plan, const Config& config,
                          uint64_t seq, const float* in, float* out, const std::string& what);

}  // namespace gw
