// The transport interface (Gloo-style): moving bytes between ranks, nothing
// else. Algorithms in src/algo/ see only this header. A batch of non-blocking
// point-to-point operations is started, progressed and waited on as a unit,
// with a timeout so that a peer that never arrives becomes an error naming it,
// not a hang.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

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
};

}  // namespace gw
