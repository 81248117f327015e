// MPI transport: host memory, non-blocking MPI point-to-point on a private
// duplicate of the user's communicator (so our tags never meet theirs), with
// MPI_ERRORS_RETURN so MPI failures become gradwire errors, not aborts.
#pragma once

#include <mpi.h>

#include "transports/transport.h"

namespace gw {

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(MPI_Comm user_comm);  // collective: duplicates user_comm
  ~MpiTransport() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi"; }
  MPI_Comm comm() const { return comm_; }

  std::unique_ptr<Batch> new_batch() override;
  void start(Batch& batch) override;
  bool test(Batch& batch) override;
  void wait(Batch& batch, double timeout_s, const std::string& what) override;

  void abandon(uint64_t seq, gw_status status) override;
  void check_peers(const std::string& what) override;
  bool broken() const override { return broken_; }

 private:
  void match_receives(Batch& batch);
  // True once a peer's abandon notice has arrived (read into peer_notice_; breaks the transport).
  bool take_notice();
  // Polls `done` (backing off to short sleeps) until it is true; after
  // timeout_s (0 = never) breaks the transport and throws GW_ERR_TIMEOUT with
  // `silent()`'s description of who is missing. A peer's abandon notice ends
  // the wait early (GW_ERR_REMOTE): nobody waits out a timeout for a rank that
  // has already given up.
  template <typename Done, typename Silent>
  void poll(Done&& done, double timeout_s, const std::string& what, Silent&& silent);
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool broken_ = false;     // a timed-out or abandoned call left requests behind
  bool abandoned_ = false;  // this rank has sent its abandon notices
  std::string peer_notice_;  // a peer's abandon notice, once seen
  gw_status peer_notice_status_ = GW_SUCCESS;
};

}  // namespace gw
