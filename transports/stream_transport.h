// A stream-ordered transport (NCCL): data lives in device memory and every
// operation is enqueued on a CUDA stream and returns at once, never waiting for
// the device. Bad arguments throw at enqueue time; failures that surface while
// the device runs are asynchronous, reported by async_error() (like
// ncclCommGetAsyncError). Kept apart from transport.h, whose host transports
// complete operations on the host.
#pragma once

#include <cstddef>
#include <string>

#include "gradwire/gradwire.h"

namespace gw {

class StreamTransport {
 public:
  virtual ~StreamTransport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* name() const = 0;
  virtual int device() const = 0;  // the CUDA device of this rank

  // recv[k * bytes ..) = rank k's send[0 .. bytes), on `stream`.
  virtual void allgather(const void* send, void* recv, size_t bytes, void* stream) = 0;
  // Personalized exchange of equal blocks, on `stream`: send[k * stride ..
  // + bytes) goes to rank k, and recv[k * stride .. + bytes) receives rank k's
  // block for this rank. This rank's own blocks are neither sent nor touched
  // (bytes <= stride).
  virtual void alltoall(const void* send, void* recv, size_t stride, size_t bytes, void* stream) = 0;
  // The plain reduction (small-message path and benchmark baseline).
  virtual void allreduce(const void* send, void* recv, size_t count, gw_dtype dtype, gw_op op, void* stream) = 0;
  // Empty, or what went wrong on the device side since creation (no waiting).
  virtual std::string async_error() = 0;
};

}  // namespace gw
