/*
 * gradwire — compressed allreduce / allgather for data-parallel training.
 *
 * The stable C contract (C99 and C++). Modelled on NCCL:
 *   - opaque communicator handle, every call returns a gw_status;
 *   - gw_status_string() names the code, gw_last_error() (thread-local) holds
 *     the detail of the last failure on the calling thread;
 *   - argument order follows the data-path picture:
 *       gw_allreduce(comm, layer, send, recv, count, dtype, op, stream)
 *   - per-layer state (spec, residuals, statistics) lives in the library and is
 *     keyed by the layer name given on each call;
 *   - configuration by a config string and GW_* environment variables
 *     (GW_DEBUG=WARN|INFO|TRACE, like NCCL_DEBUG).
 * No C++ exception ever crosses this boundary.
 */
#ifndef GRADWIRE_GRADWIRE_H
#define GRADWIRE_GRADWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "gradwire/gw_config.h" /* generated: GW_VERSION_*, GW_HAVE_MPI, GW_HAVE_CUDA */

#if GW_HAVE_MPI
/* Only MPI's C API is used: keep the deprecated C++ bindings out. */
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#endif

#if defined(__GNUC__)
#define GW_API __attribute__((visibility("default")))
#else
#define GW_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes --------------------------------------------------------- */
typedef enum {
  GW_SUCCESS = 0,
  GW_ERR_INVALID_ARGUMENT = 1, /* null pointer, unknown dtype/op, bad spec or config */
  GW_ERR_INVALID_USAGE = 2,    /* call not allowed in this state (e.g. op on allgather) */
  GW_ERR_MISMATCH = 3,         /* ranks disagree on spec, count, dtype, op or layer */
  GW_ERR_CORRUPT = 4,          /* a peer's payload failed validation (checksum, length) */
  GW_ERR_TIMEOUT = 5,          /* a peer did not arrive within GW_TIMEOUT */
  GW_ERR_COMM_BROKEN = 6,      /* an earlier timeout broke the communicator */
  GW_ERR_NONFINITE = 7,        /* NaN/Inf in an input under nonfinite=error */
  GW_ERR_REMOTE = 8,           /* a peer failed this collective and told us so */
  GW_ERR_UNSUPPORTED = 9,      /* feature not built in (e.g. CUDA buffer, no CUDA) */
  GW_ERR_SYSTEM = 10,          /* MPI/CUDA/OS call failed, or out of memory */
  GW_ERR_INTERNAL = 11,        /* a bug in gradwire: please report it */
  GW_NUM_STATUS = 12
} gw_status;

typedef enum { GW_FLOAT32 = 0, GW_FLOAT16 = 1, GW_BFLOAT16 = 2, GW_NUM_DTYPES = 3 } gw_dtype;

typedef enum { GW_SUM = 0, GW_AVG = 1, GW_NUM_OPS = 2 } gw_op;

/* Opaque communicator. */
typedef struct gw_comm* gw_comm_t;

/* Statistics of one layer or of a whole communicator (sum over its layers). */
typedef struct {
  uint64_t calls;          /* collectives that completed successfully */
  uint64_t elements;       /* input elements reduced or gathered */
  uint64_t bytes_input;    /* input bytes (count * dtype size) */
  uint64_t bytes_sent;     /* bytes this rank put on the wire (headers included) */
  uint64_t bytes_received; /* bytes this rank took off the wire */
  double compression_ratio; /* bytes_input / bytes_sent as an allreduce would count
                              them: input bytes per byte sent (0 when nothing sent) */
  double encode_seconds;   /* compressor encode (and re-encode) */
  double decode_seconds;   /* decode and decode_add */
  double comm_seconds;     /* waiting on the transport */
  double total_seconds;    /* wall time inside the collective calls */
  uint64_t state_resets;   /* scheme state (error-feedback vectors) dropped: a spec or
                              count change, a failed call, NaN/Inf input (each logged) */
  uint64_t state_bytes;    /* scheme state held now (residual memory) */
  uint64_t decode_retries; /* check units re-sent because some rank could not decode
                              them against its reference (lattice) */
  uint64_t ranks_excluded; /* ranks a robust rule (SafeguardSGD) removed for good, now;
                              the communicator's, 0 in a layer's statistics */
  uint64_t equivocations;  /* senders left out of a robust call because different ranks
                              received different bytes from them (one per call and sender) */
} gw_stats;

/* ---- library ------------------------------------------------------------- */
/* Version as MAJOR*10000 + MINOR*100 + PATCH. */
GW_API gw_status gw_get_version(int* version);

/* Name of a status code ("GW_ERR_MISMATCH: ..."). Never NULL. */
GW_API const char* gw_status_string(gw_status status);

/* Detail of the last failing call on this thread ("" if none). Never NULL. */
GW_API const char* gw_last_error(void);

/* ---- communicators ------------------------------------------------------- */
/*
 * Config string: ';'-separated key=value pairs, e.g.
 *   "compressor=maxmin:bits=4,bucket=512;algorithm=auto;timeout=30"
 * Keys: compressor (default spec), algorithm (auto|allgather|sra),
 * chunk_bytes, min_compress_bytes, fallback_bytes (calls up to this size use
 * the plain MPI/NCCL collective; default 64K), timeout (seconds, 0 = wait forever),
 * seed, checksum (0|1), nonfinite (error|propagate), robust (none|mean|median|
 * trimmed|krum|geomed|cc|safeguard with their keys, e.g. "robust=cc:tau=1":
 * docs/ROBUST.md; MPI only).
 * Every key may also come from GW_<KEY> in the environment; the config string
 * wins over the environment. Unknown keys are GW_ERR_INVALID_ARGUMENT.
 * Collective over the given communicator: all ranks must call it.
 */
#if GW_HAVE_MPI
GW_API gw_status gw_comm_create_mpi(gw_comm_t* comm, MPI_Comm mpi_comm, const char* config);
#endif

/*
 * NCCL (GPU, stream-ordered). Buffers must be device memory; every call is
 * enqueued on its stream and returns without waiting for the device, and
 * allocates nothing once warm. The exception: a layer's first call, and any
 * call whose plan (count, spec, op, algorithm) changed, first gathers every
 * rank's bare header and waits for the stream once to compare them, so ranks
 * that disagree get GW_ERR_MISMATCH from that call on every rank instead of a
 * hang inside NCCL (plan_check=every: on every call). Calls are made with the
 * NCCL communicator's device current. Failures found on the device (a damaged
 * header, NaN/Inf under nonfinite=error) turn that call's output and every
 * later one to NaN and are reported, without waiting, by the next call or
 * gw_comm_get_state(), which then breaks the communicator (like
 * ncclCommGetAsyncError).
 * Calls of at most fallback_bytes go to ncclAllReduce/ncclAllGather.
 * GW_ERR_UNSUPPORTED in a build without NCCL.
 */
struct ncclComm; /* NCCL's ncclComm_t is a struct ncclComm* */

/* Over an existing NCCL communicator, which the caller keeps and destroys
 * after gw_comm_destroy. Local (not collective). */
GW_API gw_status gw_comm_create_nccl(gw_comm_t* comm, struct ncclComm* nccl_comm, const char* config);

#if GW_HAVE_MPI
/* Bootstraps NCCL over an MPI communicator (rank 0's unique id is broadcast):
 * one NCCL rank per MPI rank, on the calling thread's current CUDA device.
 * Collective over mpi_comm; the NCCL communicator is owned by the result. */
GW_API gw_status gw_comm_create_nccl_mpi(gw_comm_t* comm, MPI_Comm mpi_comm, const char* config);
#endif

/* Releases the communicator (local; does not synchronize). NULL is a no-op. */
GW_API gw_status gw_comm_destroy(gw_comm_t comm);

GW_API gw_status gw_comm_rank(gw_comm_t comm, int* rank);
GW_API gw_status gw_comm_size(gw_comm_t comm, int* size);

/* GW_SUCCESS; GW_ERR_COMM_BROKEN after a timeout (or an asynchronous error)
 * broke it; on an NCCL communicator, the asynchronous error itself the first
 * time it is seen. Never waits for the device. */
GW_API gw_status gw_comm_get_state(gw_comm_t comm);

/* ---- per-layer settings (local; every rank must make the same choices) ---- */
/* Overrides the compressor spec of one layer ("none", "maxmin:bits=8", ...). */
GW_API gw_status gw_layer_set_spec(gw_comm_t comm, const char* layer, const char* spec);

/* Shape hint (e.g. out x in x kh x kw) for low-rank compressors: powersgd views
 * the layer as dims[0] x (product of the others), and a call whose count differs
 * from the product is GW_ERR_INVALID_ARGUMENT. Without a hint (or with one
 * dimension) such a layer travels uncompressed. */
GW_API gw_status gw_layer_set_shape(gw_comm_t comm, const char* layer, int ndims, const int64_t* dims);

/* Robust aggregation for one layer's allreduce: a rule spec as for the
 * config key robust= ("median", "cc:tau=1", ..., docs/ROBUST.md), "none" for
 * the plain running sum, or "" to follow the communicator's robust= again.
 * The rule's state (centered clipping's center, SafeguardSGD's windows)
 * starts over. MPI communicators only (GW_ERR_UNSUPPORTED on NCCL). */
GW_API gw_status gw_layer_set_robust(gw_comm_t comm, const char* layer, const char* rule);

/* Canonical spec currently used for a layer, written into buf (NUL-terminated). */
GW_API gw_status gw_layer_get_spec(gw_comm_t comm, const char* layer, char* buf, size_t buf_size);

/* The spec a layer travels in now: for an lgreco layer, the candidate its plan
 * chose (the uniform setting before the first plan); otherwise the same as
 * gw_layer_get_spec. */
GW_API gw_status gw_layer_get_planned_spec(gw_comm_t comm, const char* layer, char* buf, size_t buf_size);

/* ---- collectives --------------------------------------------------------- */
/*
 * recv[i] = op over ranks of send[i], for i < count; send == recv (in place) is
 * allowed. Each rank gets a bit-identical result. stream: a cudaStream_t for
 * device buffers, NULL for host buffers.
 */
GW_API gw_status gw_allreduce(gw_comm_t comm, const char* layer, const void* send, void* recv,
                       size_t count, gw_dtype dtype, gw_op op, void* stream);

/*
 * recv (size * count elements) holds every rank's send buffer in rank order,
 * each passed through the layer's compressor (the own slot too, so all ranks
 * agree bit for bit).
 */
GW_API gw_status gw_allgather(gw_comm_t comm, const char* layer, const void* send, void* recv,
                       size_t count, gw_dtype dtype, void* stream);

/*
 * One buffer holding several layers, as frameworks hand over gradient buckets:
 * layer i covers elements [offsets[i], offsets[i] + counts[i]) of send/recv.
 * Layers must not overlap. One collective exchange for the whole bucket (two
 * when some layer runs powersgd: every layer's P factor in the first, with the
 * other layers, every Q in the second); each layer keeps its own spec, state
 * and statistics.
 */
GW_API gw_status gw_allreduce_multi(gw_comm_t comm, int num_layers, const char* const* layers,
                             const size_t* offsets, const size_t* counts, const void* send,
                             void* recv, gw_dtype dtype, gw_op op, void* stream);

/* ---- checkpoints --------------------------------------------------------- */
/*
 * Per-layer state (the step counter that keys stochastic rounding, statistics,
 * and later error-feedback residuals) as an opaque, versioned byte string, so
 * that a run resumed from a checkpoint continues exactly. With buf == NULL,
 * *size receives the bytes needed. Loading validates the bytes
 * (GW_ERR_CORRUPT when damaged or from another layer). The record of a layer
 * with a robust rule also carries the rule's state and the ranks excluded
 * for good (gw_comm_get_excluded); loading it adds those ranks to the
 * communicator's (GW_ERR_INVALID_ARGUMENT when they were saved on another
 * number of ranks or would leave no majority).
 */
GW_API gw_status gw_layer_save_state(gw_comm_t comm, const char* layer, void* buf, size_t* size);
GW_API gw_status gw_layer_load_state(gw_comm_t comm, const char* layer, const void* buf, size_t size);

/* ---- statistics ---------------------------------------------------------- */
GW_API gw_status gw_layer_stats(gw_comm_t comm, const char* layer, gw_stats* stats);
GW_API gw_status gw_comm_stats(gw_comm_t comm, gw_stats* stats);
GW_API gw_status gw_stats_reset(gw_comm_t comm);

/* The ranks a robust rule (SafeguardSGD) has removed from the good set for
 * good, ascending: *count receives how many, the first min(capacity, *count)
 * are written to ranks. The same on every rank that agrees on the results. */
GW_API gw_status gw_comm_get_excluded(gw_comm_t comm, int* ranks, int capacity, int* count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GRADWIRE_GRADWIRE_H */
