// A stream-ordered transport over MPI, for tests only. NCCL refuses two ranks
// on one GPU, so without a GPU per rank the stream-ordered algorithm
// (src/algo/stream_collective.cu) could only run as an NCCL world of one. This
// transport moves the device data between real MPI ranks that share one GPU:
// each operation waits for its stream, copies the device bytes to host, runs
// the MPI collective and copies the result back to the device. It is
// synchronous, so it tests correctness (plan, wire bytes, device header check,
// decode, several ranks), not overlap and not the rule that nothing waits for
// the device (nccl_test.cpp's NoHiddenSynchronization checks that on NCCL).
// Like NCCL it has no timeout: ranks whose message sizes differ hang until the
// test's own timeout ends them.
#pragma once

#include "gradwire/gradwire.h"

#if GW_HAVE_CUDA && GW_HAVE_MPI
#include <cuda_runtime.h>
#include <mpi.h>

#include <climits>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "src/comm/communicator.h"
#include "src/config/config.h"
#include "src/common/error.h"
#include "transports/stream_transport.h"

namespace gwtest {

class MpiStagedStreamTransport : public gw::StreamTransport {
 public:
  // Collective over comm; the ranks' device is the calling thread's current one.
  explicit MpiStagedStreamTransport(MPI_Comm comm) {
    check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");  // never meets the caller's collectives
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);       // failures become gw::Error, not aborts
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    check_cuda(cudaGetDevice(&device_), "cudaGetDevice");
  }
  ~MpiStagedStreamTransport() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  MpiStagedStreamTransport(const MpiStagedStreamTransport&) = delete;
  MpiStagedStreamTransport& operator=(const MpiStagedStreamTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi-staged"; }
  int device() const override { return device_; }

  void allgather(const void* send, void* recv, size_t bytes, void* stream) override {
    std::vector<char> mine(bytes), all(bytes * size_);
    to_host(mine.data(), send, bytes, stream);
    wait(stream);
    check_mpi(MPI_Allgather(mine.data(), as_int(bytes), MPI_BYTE, all.data(), as_int(bytes), MPI_BYTE, comm_),
              "MPI_Allgather");
    to_device(recv, all.data(), all.size(), stream);
    wait(stream);
  }

  void alltoall(const void* send, void* recv, size_t stride, size_t bytes, void* stream) override {
    GW_REQUIRE(bytes <= stride, GW_ERR_INVALID_ARGUMENT, "mpi-staged alltoall: block of ", bytes,
               " bytes exceeds the stride of ", stride);
    // Packed host blocks of `bytes` (the gaps up to `stride` stay off the wire).
    // This rank's own block is neither read nor written on the device: its
    // host block goes to itself as zeros and is dropped.
    std::vector<char> out(bytes * size_), in(bytes * size_);
    const char* src = static_cast<const char*>(send);
    char* dst = static_cast<char*>(recv);
    for (int k = 0; k < size_; ++k)
      if (k != rank_) to_host(out.data() + k * bytes, src + k * stride, bytes, stream);
    wait(stream);
    check_mpi(MPI_Alltoall(out.data(), as_int(bytes), MPI_BYTE, in.data(), as_int(bytes), MPI_BYTE, comm_),
              "MPI_Alltoall");
    for (int k = 0; k < size_; ++k)
      if (k != rank_) to_device(dst + k * stride, in.data() + k * bytes, bytes, stream);
    wait(stream);
  }

  void allreduce(const void* send, void* recv, size_t count, gw_dtype dtype, gw_op op, void* stream) override {
    if (dtype != GW_FLOAT32) gw::fail(GW_ERR_UNSUPPORTED, "the mpi-staged test transport reduces float32 only");
    GW_REQUIRE(op == GW_SUM || op == GW_AVG, GW_ERR_INVALID_ARGUMENT, "unknown op ", static_cast<int>(op));
    std::vector<float> x(count);
    to_host(x.data(), send, count * sizeof(float), stream);
    wait(stream);
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, x.data(), as_int(count), MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
    if (op == GW_AVG)
      for (float& v : x) v /= static_cast<float>(size_);
    to_device(recv, x.data(), count * sizeof(float), stream);
    wait(stream);
  }

  // Every failure is thrown at the call (nothing runs asynchronously).
  std::string async_error() override { return ""; }

 private:
  // The copies go on the operation's stream, so they follow the work before
  // them there; wait() then makes the host side complete (pageable memory).
  static void to_host(void* dst, const void* src, size_t bytes, void* stream) {
    if (bytes)
      check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)), "cudaMemcpyAsync");
  }
  static void to_device(void* dst, const void* src, size_t bytes, void* stream) {
    if (bytes)
      check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)), "cudaMemcpyAsync");
  }
  static void wait(void* stream) { check_cuda(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize"); }
  static cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

  static int as_int(size_t n) {
    GW_REQUIRE(n <= static_cast<size_t>(INT_MAX), GW_ERR_UNSUPPORTED, "mpi-staged: count ", n,
               " does not fit an MPI int count");
    return static_cast<int>(n);
  }
  static void check_cuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess) gw::fail(GW_ERR_SYSTEM, "mpi-staged: ", what, " failed: ", cudaGetErrorString(e));
  }
  static void check_mpi(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    gw::fail(GW_ERR_SYSTEM, "mpi-staged: ", what, " failed: ", std::string(text, len));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, device_ = 0;
};

// A communicator on the stream-ordered path over this transport, made as the C
// API makes one (config parsed before the collective setup); collective over
// comm. The handle is a gw::Communicator*, like gw_comm_create_*'s: free it
// with gw_comm_destroy. Throws gw::Error on a bad config.
// A communicator over `transport` (default: a new MpiStagedStreamTransport over comm).
inline gw_comm_t make_staged_stream_comm(MPI_Comm comm, const std::string& config,
                                         gw::StreamTransport* transport = nullptr) {
  gw::Config cfg = gw::parse_config(config.c_str());
  std::unique_ptr<gw::StreamTransport> t(transport ? transport : new MpiStagedStreamTransport(comm));
  return reinterpret_cast<gw_comm_t>(new gw::Communicator(std::move(t), std::move(cfg)));
}

}  // namespace gwtest
#endif
