// NCCL transport: device buffers, every operation on the caller's stream (or
// the communicator's side stream for pipelining), no host synchronization.
// Made from an existing ncclComm_t (the caller keeps ownership) or bootstrapped
// from an MPI communicator (rank 0's unique id broadcast; owned and destroyed here).
#pragma once

#include <nccl.h>

#include "gradwire/gradwire.h"
#include "transports/stream_transport.h"

namespace gw {

class NcclTransport : public StreamTransport {
 public:
  explicit NcclTransport(ncclComm_t comm);  // borrowed
#if GW_HAVE_MPI
  // Collective over mpi_comm: one NCCL rank per MPI rank on the calling
  // thread's current CUDA device.
  explicit NcclTransport(MPI_Comm mpi_comm);
#endif
  ~NcclTransport() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "nccl"; }
  int device() const override { return device_; }

  void allgather(const void* send, void* recv, size_t bytes, void* stream) override;
  void alltoall(const void* send, void* recv, size_t stride, size_t bytes, void* stream) override;
  void allreduce(const void* send, void* recv, size_t count, gw_dtype dtype, gw_op op, void* stream) override;
  std::string async_error() override;

 private:
  void describe();
  ncclComm_t comm_ = nullptr;
  bool owned_ = false;
  int rank_ = 0, size_ = 1, device_ = 0;
};

}  // namespace gw
