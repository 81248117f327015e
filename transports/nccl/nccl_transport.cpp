#include "transports/nccl/nccl_transport.h"

#include <cuda_runtime.h>

#include "src/common/error.h"
#include "src/common/log.h"

namespace gw {
namespace {

void check_nccl(ncclResult_t r, const char* call, ncclComm_t comm = nullptr) {
  if (r == ncclSuccess || r == ncclInProgress) return;
  const char* detail = comm ? ncclGetLastError(comm) : ncclGetLastError(nullptr);
  fail(r == ncclInvalidArgument || r == ncclInvalidUsage ? GW_ERR_INVALID_ARGUMENT : GW_ERR_SYSTEM, call,
       " failed: ", ncclGetErrorString(r), detail && *detail ? std::string(" (") + detail + ")" : std::string());
}

ncclDataType_t nccl_type(gw_dtype d) {
  switch (d) {
    case GW_FLOAT16: return ncclFloat16;
    case GW_BFLOAT16: return ncclBfloat16;
    default: return ncclFloat32;
  }
}

}  // namespace

NcclTransport::NcclTransport(ncclComm_t comm) : comm_(comm) {
  GW_REQUIRE(comm != nullptr, GW_ERR_INVALID_ARGUMENT, "nccl_comm is NULL");
  describe();
}

#if GW_HAVE_MPI
NcclTransport::NcclTransport(MPI_Comm mpi_comm) : owned_(true) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  GW_REQUIRE(initialized, GW_ERR_INVALID_USAGE, "MPI is not initialized (call MPI_Init first)");
  GW_REQUIRE(mpi_comm != MPI_COMM_NULL, GW_ERR_INVALID_ARGUMENT, "mpi_comm is MPI_COMM_NULL");
  int rank = 0, size = 1;
  MPI_Comm_rank(mpi_comm, &rank);
  MPI_Comm_size(mpi_comm, &size);
  // Every rank takes part in the broadcast even when rank 0 failed to make an
  // id, so no rank is left waiting; the failure is then every rank's error.
  ncclUniqueId id{};
  int ok = rank == 0 ? ncclGetUniqueId(&id) == ncclSuccess : 1;
  MPI_Bcast(&ok, 1, MPI_INT, 0, mpi_comm);
  GW_REQUIRE(ok, GW_ERR_SYSTEM, "ncclGetUniqueId failed on rank 0");
  GW_REQUIRE(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, mpi_comm) == MPI_SUCCESS, GW_ERR_SYSTEM,
             "MPI_Bcast of the NCCL unique id failed");
  check_nccl(ncclCommInitRank(&comm_, size, id, rank), "ncclCommInitRank");
  describe();
}
#endif

NcclTransport::~NcclTransport() {
  if (!owned_ || !comm_) return;
  // A communicator with an asynchronous error may never finish its work:
  // abort it rather than wait in destroy.
  ncclResult_t state = ncclSuccess;
  ncclCommGetAsyncError(comm_, &state);
  if (state != ncclSuccess && state != ncclInProgress) ncclCommAbort(comm_);
  else ncclCommDestroy(comm_);
}

void NcclTransport::describe() {
  check_nccl(ncclCommUserRank(comm_, &rank_), "ncclCommUserRank", comm_);
  check_nccl(ncclCommCount(comm_, &size_), "ncclCommCount", comm_);
  check_nccl(ncclCommCuDevice(comm_, &device_), "ncclCommCuDevice", comm_);
  int version = 0;
  ncclGetVersion(&version);
  GW_LOG(INFO, "NCCL transport: rank ", rank_, " of ", size_, " on CUDA device ", device_, ", NCCL ", version);
}

void NcclTransport::allgather(const void* send, void* recv, size_t bytes, void* stream) {
  check_nccl(ncclAllGather(send, recv, bytes, ncclUint8, comm_, static_cast<cudaStream_t>(stream)), "ncclAllGather",
             comm_);
}

void NcclTransport::alltoall(const void* send, void* recv, size_t stride, size_t bytes, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const char* src = static_cast<const char*>(send);
  char* dst = static_cast<char*>(recv);
  // One group: NCCL schedules all sends and receives together (no ordering
  // deadlock between pairs). An error inside the group still ends it.
  check_nccl(ncclGroupStart(), "ncclGroupStart", comm_);
  ncclResult_t r = ncclSuccess;
  const char* failed = nullptr;
  for (int peer = 0; peer < size_ && r == ncclSuccess; ++peer) {
    if (peer == rank_) continue;
    const size_t at = static_cast<size_t>(peer) * stride;
    r = ncclSend(src + at, bytes, ncclUint8, peer, comm_, s);
    failed = "ncclSend";
    if (r == ncclSuccess) r = ncclRecv(dst + at, bytes, ncclUint8, peer, comm_, s), failed = "ncclRecv";
  }
  const ncclResult_t end = ncclGroupEnd();
  check_nccl(r, failed ? failed : "ncclSend", comm_);
  check_nccl(end, "ncclGroupEnd", comm_);
}

void NcclTransport::allreduce(const void* send, void* recv, size_t count, gw_dtype dtype, gw_op op, void* stream) {
  check_nccl(ncclAllReduce(send, recv, count, nccl_type(dtype), op == GW_AVG ? ncclAvg : ncclSum, comm_,
                           static_cast<cudaStream_t>(stream)),
             "ncclAllReduce", comm_);
}

std::string NcclTransport::async_error() {
  ncclResult_t state = ncclSuccess;
  if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) return "ncclCommGetAsyncError failed";
  if (state == ncclSuccess || state == ncclInProgress) return "";
  const char* detail = ncclGetLastError(comm_);
  return std::string(ncclGetErrorString(state)) + (detail && *detail ? std::string(": ") + detail : "");
}

}  // namespace gw
