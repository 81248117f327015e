// MPI transport: host memory, non-blocking MPI point-to-point on a private
// duplicate of the user's communicator (so our tags never meet theirs), with
// MPI_ERRORS_RETURN so MPI failures become gradwire errors, not aborts.
#pragma once

#include <mpi.h>

#include "transport.h"

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

  bool supports_plain() const override { return true; }
  void plain_allreduce_sum(const float* send, float* recv, const std::vector<std::pair<size_t, size_t>>& ranges,
                           int* flag, double timeout_s, const std::string& what) override;
  void plain_allgather(const void* send, void* recv, size_t bytes, int* flag, double timeout_s,
                       const std::string& what) override;

 private:
  void match_receives(Batch& batch);
  // Polls `done` (backing off to short sleeps) until it is true; after
  // timeout_s (0 = never) breaks the transport and throws GW_ERR_TIMEOUT with
  // `silent()`'s description of who is missing.
  template <typename Done, typename Silent>
  void poll(Done&& done, double timeout_s, const std::string& what, Silent&& silent);
  // Starts the flag's max-reduction, then the data collectives, and waits for all.
  template <typename StartData>
  void plain_collective(int* flag, double timeout_s, const std::string& what, StartData&& start_data);
  // The small plain allreduce (recursive_doubling.h): staging and scratch.
  void small_allreduce(const float* send, float* recv, const std::vector<std::pair<size_t, size_t>>& ranges,
                       size_t total, int* flag, double timeout_s, const std::string& what);
  std::vector<MPI_Request> plain_reqs_;
  std::vector<float> small_buf_, small_scratch_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool broken_ = false;  // a timed-out batch left requests behind
};

}  // namespace gw
