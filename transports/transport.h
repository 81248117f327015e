// The transport interface (Gloo-style): moving bytes between ranks, nothing
// else. Algorithms in src/algo/ see only this header. A batch of non-blocking
// point-to-point operations is started, progressed and waited on as a unit,
// with a timeout so that a peer that never arrives becomes an error naming it,
// not a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/common/error.h"

namespace gw {

struct P2POp {
  // in
  bool is_send = false;
  void* buf = nullptr;  // send: bytes to send; recv: capacity bytes to fill
  size_t bytes = 0;
  int peer = -1;
  int tag = 0;
  // out (valid once complete)
  bool complete = false;
  size_t received = 0;     // recv: bytes that arrived
  bool truncated = false;  // recv: the peer sent more than `bytes`
  std::string error;       // transport-level failure, empty if none
};

// A set of operations started together. Transports extend it with their own
// request handles; it is reused call after call (no allocation once grown).
class Batch {
 public:
  virtual ~Batch() = default;
  std::vector<P2POp> ops;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* name() const = 0;

  virtual std::unique_ptr<Batch> new_batch() = 0;
  // Posts every op of the batch (receives first).
  virtual void start(Batch& batch) = 0;
  // Drives progress without blocking; true once every op is complete.
  virtual bool test(Batch& batch) = 0;
  // Blocks until every op is complete. After timeout_s seconds without
  // completion (0 = never) it cancels what it can and throws GW_ERR_TIMEOUT
  // naming the peers not heard from; the transport is then broken.
  virtual void wait(Batch& batch, double timeout_s, const std::string& what) = 0;

  // Fault containment. A rank that gives up call `seq` when its peers may
  // have completed it (a timeout; a fault found in the call's last exchange,
  // which no later message of the call can report) calls abandon(): every peer
  // is told, and this transport is broken from then on. A peer learns of it in
  // check_peers() (every call runs it on entry and on success, and wait() while
  // it waits), so every rank gets an error from that call or from its next one,
  // and no rank keeps a result another rank knows is bad (as NCCL's
  // asynchronous errors). Buffers of requests still in flight are never freed.
  virtual void abandon(uint64_t seq, gw_status status) = 0;
  // Throws GW_ERR_REMOTE naming the peer and its call (and breaks the
  // transport) once a peer has abandoned; `what` names the call at hand.
  virtual void check_peers(const std::string& what) = 0;
  virtual bool broken() const = 0;
};

}  // namespace gw
