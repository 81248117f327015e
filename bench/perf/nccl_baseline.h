// gw-perf's NCCL baseline: a plain ncclAllReduce(float, sum) of the same
// device buffer on its own NCCL communicator (bootstrapped over MPI), so
// gradwire's NCCL transport is compared with NCCL itself in one run.
#pragma once

#include <cstddef>
#include <mpi.h>

namespace perf {

class NcclBaseline {
 public:
  explicit NcclBaseline(MPI_Comm comm);  // collective; exits with a message without NCCL
  ~NcclBaseline();
  void allreduce(const void* send, void* recv, size_t count, void* stream);

 private:
  void* comm_ = nullptr;
};

}  // namespace perf
