// The transport interface (Gloo-style): moving bytes between ranks, nothing
// else. Algorithms in src/algo/ see only this header. A batch of non-blocking
// point-to-point operations is started, progressed and waited on as a unit,
// with a timeout so that a peer that never arrives becomes an error naming it,
// not a hang.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "common/error.h"

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

  // Plain (uncompressed) collectives on host memory: the small-message path,
  // where the implementation's own allreduce beats anything compressed. The
  // caller has checked first that every rank calls with the same arguments.
  // `flag`, unless null, is max-reduced across ranks in the same step (a rank
  // that must fail the call says so without an extra round trip). A timeout throws
  // GW_ERR_TIMEOUT and breaks the transport, as wait() does.
  virtual bool supports_plain() const { return false; }
  // Sums recv[r] over ranks for every range r = (first element, count); send ==
  // recv means in place.
  virtual void plain_allreduce_sum(const float* /*send*/, float* /*recv*/,
                                   const std::vector<std::pair<size_t, size_t>>& /*ranges*/, int* /*flag*/,
                                   double /*timeout_s*/, const std::string& what) {
    unsupported(what);
  }
  // recv[k * bytes ..) = rank k's send[0 .. bytes).
  virtual void plain_allgather(const void* /*send*/, void* /*recv*/, size_t /*bytes*/, int* /*flag*/,
                               double /*timeout_s*/, const std::string& what) {
    unsupported(what);
  }

 private:
  [[noreturn]] void unsupported(const std::string& what) const {
    fail(GW_ERR_UNSUPPORTED, "the ", name(), " transport has no plain collectives (", what, ")");
  }
};

}  // namespace gw
