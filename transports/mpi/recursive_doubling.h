// Sum-allreduce of a small buffer by recursive doubling over point-to-point
// messages: log2(p) exchanges for p ranks a power of two (ranks beyond the
// largest power of two first hand their data to a partner and get the result
// back at the end). For latency-bound calls: Open MPI's non-blocking
// MPI_Iallreduce (libnbc) cost several times the blocking one at 4 KiB (12.1
// against 3.2 us at np=2 on one host), and the blocking one cannot honour a
// timeout. Here every wait goes through the caller's `wait`, which polls with
// the communicator's timeout.
//
// buf holds `floats` values followed by one int (the plan-check flag): values
// are summed, the flag takes the maximum. Each pair adds the lower rank's
// operand first, so every rank ends with the same bits. A peer's message of
// another length (ranks that disagree on the count) is GW_ERR_MISMATCH naming
// that peer, never a read past the buffer.
#pragma once

#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

namespace gw {

// Largest call (bytes of values) worth doing this way; above it bandwidth
// matters and MPI's own algorithms win.
constexpr size_t kRecursiveDoublingMaxBytes = 64 * 1024;

struct RecursiveDoubling {
  MPI_Comm comm;
  int rank, size, tag;
  // Waits for all `count` requests (polling MPI_Testall with the timeout);
  // `peer` names who is missing if it times out. Throws on MPI errors.
  std::function<void(MPI_Request* reqs, MPI_Status* statuses, int count, int peer)> wait;

  // scratch: reused between calls (resized to buf's size).
  void sum(std::vector<float>& buf, std::vector<float>& scratch, size_t floats, const std::string& what) const;
};

}  // namespace gw
