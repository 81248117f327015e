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
// exchanges already under way are drained. A fault found in the last
// exchange, which no abort message can carry, is reported through the
// transport's abandon notices instead (run_collective). A peer that never
// answers is GW_ERR_TIMEOUT from the transport.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/algo/crosscheck.h"
#include "src/algo/data_ops.h"
#include "src/algo/host_bytes.h"
#include "src/algo/plan.h"
#include "src/config/config.h"
#include "transports/transport.h"

namespace gw {

// Grow-only buffers reused call after call (no allocation once warm).
struct Workspace {
  struct MessageSet {
    std::vector<HostBytes> send;  // one per peer (SRA scatter) or one for all
    std::vector<HostBytes> recv;  // one per peer
    std::unique_ptr<Batch> batch;
  };
  MessageSet sets[2][2];  // [scatter/allgather, gather-back][round parity]
  bool pinned = false;    // message buffers page-locked (device data)
  std::vector<float> in32, out32;  // fp16/bf16 calls work in fp32
  std::vector<float> peer_values;        // a PeerRule's inputs: every rank's decoded piece (host data)
  std::vector<const float*> peer_rows;  // the rows a rule combines (ranks not excluded)
  std::vector<int> peer_ranks;         // their ranks
  std::vector<uint32_t> missed_units;    // one payload's failed checks (decode_near)
  std::unique_ptr<DataOps> host_ops, device_ops;
  CallPlan plain_plan;  // the small-call path's identity-codec copy of a plan (plain_collective.cpp)
  CrosscheckBuffers crosscheck;  // a robust call's hash rows (equivocation detection)
};

// A check unit of a payload that a reference-decoding codec could not decode
// (Compressor::decode_near): which segment, whose payload, which unit.
struct DecodeMiss {
  uint32_t segment = 0;
  int sender = 0;
  uint32_t unit = 0;
};

struct CallResult {
  std::vector<LayerStats> per_segment;  // stats of this call, one per plan segment
  std::vector<DecodeMiss> misses;       // this rank's, in the order it decoded
  std::vector<int> removed;             // ranks a peer rule dropped for good in this call (SafeguardSGD)
  std::vector<int> equivocators;        // senders left out of this call: they sent different bytes to different ranks
  bool local_nonfinite = false;         // this rank's input held NaN/Inf (nonfinite=propagate)
  bool any_nonfinite = false;           // some rank's did: the shared result holds NaN/Inf
};

// The largest payload of one message of the plan (for sizing DataOps staging).
size_t max_message_payload(const CallPlan& plan, int world_size);

// Throws gw::Error on failure (after the protocol above has run its course).
// A fault this rank finds where no later message of the call can report it
// (the call's last exchange) may leave peers with a completed call: the
// transport's abandon() tells them (transport.h), and the transport is broken.
// in/out live where `ops` works (host or device).
CallResult run_collective(Transport& transport, Workspace& ws, DataOps& ops, const CallPlan& plan,
                          const Config& config, uint64_t seq, const float* in, float* out, const std::string& what);

}  // namespace gw
