#include "bench/perf/nccl_baseline.h"

#include <cstdio>
#include <cstdlib>

#include "gradwire/gw_config.h"

#if GW_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

namespace perf {
namespace {
void check(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return;
  std::fprintf(stderr, "gw-perf: %s failed: %s\n", what, ncclGetErrorString(r));
  std::exit(2);
}
}  // namespace

NcclBaseline::NcclBaseline(MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  ncclUniqueId id;
  if (rank == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
  ncclComm_t c = nullptr;
  check(ncclCommInitRank(&c, size, id, rank), "ncclCommInitRank (baseline)");
  comm_ = c;
}
NcclBaseline::~NcclBaseline() { ncclCommDestroy(static_cast<ncclComm_t>(comm_)); }
void NcclBaseline::allreduce(const void* send, void* recv, size_t count, void* stream) {
  check(ncclAllReduce(send, recv, count, ncclFloat32, ncclSum, static_cast<ncclComm_t>(comm_),
                      static_cast<cudaStream_t>(stream)),
        "ncclAllReduce (baseline)");
}
}  // namespace perf

#else

namespace perf {
NcclBaseline::NcclBaseline(MPI_Comm) {
  std::fprintf(stderr, "gw-perf: --transport nccl needs a gradwire built with NCCL (GW_WITH_NCCL=ON)\n");
  std::exit(2);
}
NcclBaseline::~NcclBaseline() = default;
void NcclBaseline::allreduce(const void*, void*, size_t, void*) {}
}  // namespace perf

#endif
