// The C boundary: the only place where gw::Error (and any other exception)
// becomes a gw_status plus a thread-local message. Every entry point checks its
// arguments before touching the communicator.
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "src/api/guarded.h"
#include "src/comm/communicator.h"
#include "src/common/error.h"
#include "src/common/log.h"
#if GW_HAVE_MPI
#include "transports/mpi/mpi_transport.h"
#endif
#if GW_HAVE_NCCL
#include "transports/nccl/nccl_transport.h"
#endif

namespace {

thread_local std::string t_last_error;

}  // namespace

gw_status gw::api::record(gw_status s, const std::string& msg) {
  t_last_error = std::string(gw_status_string(s)) + ": " + msg;
  if (gw::log_level() >= gw::LogLevel::WARN) gw::log_line(gw::LogLevel::WARN, t_last_error);
  return s;
}

namespace {

using gw::api::guarded;

gw::Communicator* checked(gw_comm_t comm) {
  auto* c = reinterpret_cast<gw::Communicator*>(comm);
  GW_REQUIRE(c != nullptr, GW_ERR_INVALID_ARGUMENT, "comm is NULL");
  GW_REQUIRE(c->magic == gw::kCommMagic, GW_ERR_INVALID_ARGUMENT,
             "comm is not a live gradwire communicator (destroyed or corrupted handle)");
  return c;
}

// One caller at a time per communicator, as NCCL and MPI require: a second
// thread that enters while a call is in progress gets GW_ERR_INVALID_USAGE at
// once (touching nothing), instead of interleaving its messages and layer
// state with the first call's and returning wrong sums.
class Exclusive {
 public:
  explicit Exclusive(gw_comm_t comm) : c_(checked(comm)) {
    bool idle = false;
    GW_REQUIRE(c_->in_use.compare_exchange_strong(idle, true, std::memory_order_acquire), GW_ERR_INVALID_USAGE,
               "another thread is inside a gw_* call on this communicator: a communicator takes one caller at a "
               "time, and every rank issues its collectives in the same order (as with NCCL and MPI)");
  }
  ~Exclusive() {
    if (c_) c_->in_use.store(false, std::memory_order_release);
  }
  Exclusive(const Exclusive&) = delete;
  Exclusive& operator=(const Exclusive&) = delete;
  gw::Communicator* operator->() const { return c_; }
  // gw_comm_destroy: the communicator is gone, nothing to release.
  void destroy() {
    c_->magic = 0;
    delete c_;
    c_ = nullptr;
  }

 private:
  gw::Communicator* c_;
};

void check_layer(const char* layer) {
  GW_REQUIRE(layer != nullptr, GW_ERR_INVALID_ARGUMENT, "layer name is NULL");
  GW_REQUIRE(layer[0] != '\0', GW_ERR_INVALID_ARGUMENT, "layer name is empty");
}

// A C caller may pass any int as an enum; in C++ loading one outside the
// enum's range is undefined (UBSan: invalid enum load), so the raw bytes are
// read and checked before the value is used as an enum.
template <typename Enum>
int raw_enum(const Enum& e) {
  static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized here");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

void check_dtype_op(const gw_dtype& dtype, const gw_op& op) {
  const int d = raw_enum(dtype), o = raw_enum(op);
  GW_REQUIRE(d >= 0 && d < GW_NUM_DTYPES, GW_ERR_INVALID_ARGUMENT, "unknown dtype ", d);
  GW_REQUIRE(o >= 0 && o < GW_NUM_OPS, GW_ERR_INVALID_ARGUMENT, "unknown op ", o);
}

void check_buffers(const void* send, const void* recv, size_t count, size_t out_multiple, gw_dtype dtype,
                   void* stream) {
  GW_REQUIRE(GW_HAVE_CUDA || stream == nullptr, GW_ERR_UNSUPPORTED,
             "a CUDA stream was given, but this build of gradwire has no CUDA");
  const size_t elem = dtype == GW_FLOAT32 ? 4 : 2;
  // The largest buffer any rank touches must have a representable byte size.
  GW_REQUIRE(out_multiple == 0 || count <= (SIZE_MAX / 2) / elem / out_multiple, GW_ERR_INVALID_ARGUMENT,
             "count ", count, " overflows the buffer size");
  GW_REQUIRE(count == 0 || (send != nullptr && recv != nullptr), GW_ERR_INVALID_ARGUMENT,
             send == nullptr ? "send buffer is NULL" : "recv buffer is NULL");
}

// python/gradwire/_lib.py mirrors gw_stats field by field (ctypes): a field
// added here goes there too, and this count with it.
static_assert(sizeof(gw_stats) == 15 * 8, "gw_stats changed: update python/gradwire/_lib.py and this check");

void fill_stats(const gw::LayerStats& s, gw_stats* out) {
  std::memset(out, 0, sizeof(*out));
  out->calls = s.calls;
  out->elements = s.elements;
  out->bytes_input = s.bytes_input;
  out->bytes_sent = s.bytes_sent;
  out->bytes_received = s.bytes_received;
  out->compression_ratio = s.bytes_sent ? static_cast<double>(s.bytes_input) / s.bytes_sent : 0.0;
  out->encode_seconds = s.encode_s;
  out->decode_seconds = s.decode_s;
  out->comm_seconds = s.comm_s;
  out->total_seconds = s.total_s;
  out->state_resets = s.state_resets;
  out->state_bytes = s.state_bytes;
  out->decode_retries = s.decode_retries;
  out->equivocations = s.equivocations;
  out->ranks_excluded = s.ranks_excluded;
}

}  // namespace

namespace {
// Every creation: check the handle, parse the config before the (possibly
// collective) transport setup so a bad config fails on every rank without
// leaving peers inside a collective, then wrap. (Every rank parses the same
// string; a config that differs between ranks shows up as GW_ERR_MISMATCH on
// the first collective.)
template <typename TransportPtr, typename MakeTransport>
gw_status create(const char* fn, gw_comm_t* comm, const char* config, MakeTransport&& make_transport) {
  return guarded(fn, [&] {
    GW_REQUIRE(comm != nullptr, GW_ERR_INVALID_ARGUMENT, "comm is NULL");
    *comm = nullptr;
    gw::Config cfg = gw::parse_config(config);
    TransportPtr t(make_transport());
    *comm = reinterpret_cast<gw_comm_t>(new gw::Communicator(std::move(t), std::move(cfg)));
  });
}

using StreamTransportPtr = std::unique_ptr<gw::StreamTransport>;
#if !GW_HAVE_NCCL
[[noreturn]] gw::StreamTransport* no_nccl() {
  gw::fail(GW_ERR_UNSUPPORTED, "this gradwire was built without NCCL (GW_WITH_NCCL=OFF)");
}
#endif
// A layer's spec, as `read` gives it, into the caller's buffer (NUL-terminated).
template <typename Read>
gw_status spec_into(const char* fn, gw_comm_t comm, const char* layer, char* buf, size_t buf_size, Read&& read) {
  return guarded(fn, [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(buf != nullptr && buf_size > 0, GW_ERR_INVALID_ARGUMENT, "buf is NULL or empty");
    std::string spec = read(*c.operator->(), layer);
    GW_REQUIRE(spec.size() < buf_size, GW_ERR_INVALID_ARGUMENT, "buf_size ", buf_size, " is too small for '", spec,
               "'");
    std::memcpy(buf, spec.c_str(), spec.size() + 1);
  });
}
}  // namespace

extern "C" {

const char* gw_status_string(gw_status s) {
  switch (s) {
    case GW_SUCCESS: return "GW_SUCCESS: no error";
    case GW_ERR_INVALID_ARGUMENT: return "GW_ERR_INVALID_ARGUMENT: invalid argument";
    case GW_ERR_INVALID_USAGE: return "GW_ERR_INVALID_USAGE: invalid usage";
    case GW_ERR_MISMATCH: return "GW_ERR_MISMATCH: ranks disagree on the call";
    case GW_ERR_CORRUPT: return "GW_ERR_CORRUPT: corrupt or truncated payload from a peer";
    case GW_ERR_TIMEOUT: return "GW_ERR_TIMEOUT: a peer did not arrive in time (GW_TIMEOUT)";
    case GW_ERR_COMM_BROKEN: return "GW_ERR_COMM_BROKEN: communicator broken by an earlier timeout";
    case GW_ERR_NONFINITE: return "GW_ERR_NONFINITE: NaN or Inf in an input";
    case GW_ERR_REMOTE: return "GW_ERR_REMOTE: a peer failed this collective";
    case GW_ERR_UNSUPPORTED: return "GW_ERR_UNSUPPORTED: not supported by this build";
    case GW_ERR_SYSTEM: return "GW_ERR_SYSTEM: system, MPI or CUDA call failed";
    case GW_ERR_INTERNAL: return "GW_ERR_INTERNAL: internal error (please report; GW_DEBUG=INFO shows more)";
    default: return "GW_ERR_UNKNOWN: not a gradwire status code";
  }
}

const char* gw_last_error(void) { return t_last_error.c_str(); }

gw_status gw_get_version(int* version) {
  return guarded("gw_get_version", [&] {
    GW_REQUIRE(version != nullptr, GW_ERR_INVALID_ARGUMENT, "version is NULL");
    *version = GW_VERSION_CODE;
  });
}


#if GW_HAVE_MPI
gw_status gw_comm_create_mpi(gw_comm_t* comm, MPI_Comm mpi_comm, const char* config) {
  return create<std::unique_ptr<gw::Transport>>("gw_comm_create_mpi", comm, config,
                                                [&] { return new gw::MpiTransport(mpi_comm); });
}

gw_status gw_comm_create_nccl_mpi(gw_comm_t* comm, MPI_Comm mpi_comm, const char* config) {
#if GW_HAVE_NCCL
  return create<StreamTransportPtr>("gw_comm_create_nccl_mpi", comm, config,
                                    [&] { return new gw::NcclTransport(mpi_comm); });
#else
  (void)mpi_comm;
  return create<StreamTransportPtr>("gw_comm_create_nccl_mpi", comm, config, no_nccl);
#endif
}
#endif

gw_status gw_comm_create_nccl(gw_comm_t* comm, struct ncclComm* nccl_comm, const char* config) {
#if GW_HAVE_NCCL
  return create<StreamTransportPtr>("gw_comm_create_nccl", comm, config,
                                    [&] { return new gw::NcclTransport(nccl_comm); });
#else
  (void)nccl_comm;
  return create<StreamTransportPtr>("gw_comm_create_nccl", comm, config, no_nccl);
#endif
}

gw_status gw_comm_destroy(gw_comm_t comm) {
  if (comm == nullptr) return GW_SUCCESS;
  return guarded("gw_comm_destroy", [&] { Exclusive(comm).destroy(); });
}

gw_status gw_comm_rank(gw_comm_t comm, int* rank) {
  return guarded("gw_comm_rank", [&] {
    GW_REQUIRE(rank != nullptr, GW_ERR_INVALID_ARGUMENT, "rank is NULL");
    *rank = checked(comm)->rank();
  });
}

gw_status gw_comm_size(gw_comm_t comm, int* size) {
  return guarded("gw_comm_size", [&] {
    GW_REQUIRE(size != nullptr, GW_ERR_INVALID_ARGUMENT, "size is NULL");
    *size = checked(comm)->size();
  });
}

gw_status gw_comm_get_state(gw_comm_t comm) {
  return guarded("gw_comm_get_state", [&] {
    Exclusive(comm)->check_state();
  });
}

gw_status gw_layer_set_spec(gw_comm_t comm, const char* layer, const char* spec) {
  return guarded("gw_layer_set_spec", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(spec != nullptr, GW_ERR_INVALID_ARGUMENT, "spec is NULL");
    c->set_spec(layer, spec);
  });
}

gw_status gw_layer_set_robust(gw_comm_t comm, const char* layer, const char* rule) {
  return guarded("gw_layer_set_robust", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(rule != nullptr, GW_ERR_INVALID_ARGUMENT, "rule is NULL");
    c->set_robust(layer, rule);
  });
}

gw_status gw_comm_get_excluded(gw_comm_t comm, int* ranks, int capacity, int* count) {
  return guarded("gw_comm_get_excluded", [&] {
    Exclusive c(comm);
    GW_REQUIRE(count != nullptr, GW_ERR_INVALID_ARGUMENT, "count is NULL");
    GW_REQUIRE(capacity >= 0 && (capacity == 0 || ranks != nullptr), GW_ERR_INVALID_ARGUMENT,
               "ranks is NULL or capacity ", capacity, " is negative");
    const std::vector<int>& ex = c->excluded_ranks();
    *count = static_cast<int>(ex.size());
    for (size_t i = 0; i < ex.size() && i < static_cast<size_t>(capacity); ++i) ranks[i] = ex[i];
  });
}

gw_status gw_layer_set_shape(gw_comm_t comm, const char* layer, int ndims, const int64_t* dims) {
  return guarded("gw_layer_set_shape", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(ndims >= 0 && ndims <= 8, GW_ERR_INVALID_ARGUMENT, "ndims ", ndims, " is outside [0, 8]");
    GW_REQUIRE(ndims == 0 || dims != nullptr, GW_ERR_INVALID_ARGUMENT, "dims is NULL");
    std::vector<int64_t> d(dims, dims + ndims);
    for (int64_t x : d) GW_REQUIRE(x > 0, GW_ERR_INVALID_ARGUMENT, "dimension ", x, " is not positive");
    c->set_shape(layer, d);
  });
}


gw_status gw_layer_get_spec(gw_comm_t comm, const char* layer, char* buf, size_t buf_size) {
  return spec_into("gw_layer_get_spec", comm, layer, buf, buf_size,
                   [](gw::Communicator& c, const char* l) { return c.spec_of(l); });
}

gw_status gw_layer_get_planned_spec(gw_comm_t comm, const char* layer, char* buf, size_t buf_size) {
  return spec_into("gw_layer_get_planned_spec", comm, layer, buf, buf_size,
                   [](gw::Communicator& c, const char* l) { return c.planned_spec_of(l); });
}

gw_status gw_allreduce(gw_comm_t comm, const char* layer, const void* send, void* recv, size_t count,
                       gw_dtype dtype, gw_op op, void* stream) {
  return guarded("gw_allreduce", [&] {
    Exclusive c(comm);
    check_layer(layer);
    check_dtype_op(dtype, op);
    check_buffers(send, recv, count, 1, dtype, stream);
    c->allreduce({gw::LayerRef{layer, 0, count}}, send, recv, count, dtype, op, stream);
  });
}

gw_status gw_allgather(gw_comm_t comm, const char* layer, const void* send, void* recv, size_t count,
                       gw_dtype dtype, void* stream) {
  return guarded("gw_allgather", [&] {
    Exclusive c(comm);
    check_layer(layer);
    check_dtype_op(dtype, GW_SUM);
    check_buffers(send, recv, count, static_cast<size_t>(c->size()), dtype, stream);
    c->allgather(layer, send, recv, count, dtype, stream);
  });
}

gw_status gw_allreduce_multi(gw_comm_t comm, int num_layers, const char* const* layers, const size_t* offsets,
                             const size_t* counts, const void* send, void* recv, gw_dtype dtype, gw_op op,
                             void* stream) {
  return guarded("gw_allreduce_multi", [&] {
    Exclusive c(comm);
    GW_REQUIRE(num_layers >= 1, GW_ERR_INVALID_ARGUMENT, "num_layers ", num_layers, " < 1");
    GW_REQUIRE(layers && offsets && counts, GW_ERR_INVALID_ARGUMENT, "layers, offsets or counts is NULL");
    check_dtype_op(dtype, op);
    std::vector<gw::LayerRef> refs;
    size_t end = 0;
    for (int i = 0; i < num_layers; ++i) {
      check_layer(layers[i]);
      // Both bounds: with offsets[i] above SIZE_MAX / 4 the difference alone would wrap.
      GW_REQUIRE(offsets[i] <= SIZE_MAX / 4 && counts[i] <= SIZE_MAX / 4 - offsets[i], GW_ERR_INVALID_ARGUMENT,
                 "layer '", gw::clip_text(layers[i]), "': offset ", offsets[i], " + count ", counts[i],
                 " overflows the buffer size");
      for (const gw::LayerRef& r : refs) {
        GW_REQUIRE(std::strcmp(r.name, layers[i]) != 0, GW_ERR_INVALID_ARGUMENT, "layer '", layers[i],
                   "' appears twice in one call");
        bool disjoint = offsets[i] + counts[i] <= r.offset || r.offset + r.count <= offsets[i];
        GW_REQUIRE(disjoint, GW_ERR_INVALID_ARGUMENT, "layers '", r.name, "' and '", layers[i], "' overlap");
      }
      refs.push_back(gw::LayerRef{layers[i], offsets[i], counts[i]});
      end = std::max(end, offsets[i] + counts[i]);
    }
    check_buffers(send, recv, end, 1, dtype, stream);
    c->allreduce(refs, send, recv, end, dtype, op, stream);
  });
}

gw_status gw_layer_save_state(gw_comm_t comm, const char* layer, void* buf, size_t* size) {
  return guarded("gw_layer_save_state", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(size != nullptr, GW_ERR_INVALID_ARGUMENT, "size is NULL");
    std::vector<uint8_t> state = c->save_state(layer);
    if (buf == nullptr) {
      *size = state.size();
      return;
    }
    GW_REQUIRE(*size >= state.size(), GW_ERR_INVALID_ARGUMENT, "buffer of ", *size, " bytes is too small for ",
               state.size(), " bytes of state");
    std::memcpy(buf, state.data(), state.size());
    *size = state.size();
  });
}

gw_status gw_layer_load_state(gw_comm_t comm, const char* layer, const void* buf, size_t size) {
  return guarded("gw_layer_load_state", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(buf != nullptr, GW_ERR_INVALID_ARGUMENT, "buf is NULL");
    c->load_state(layer, static_cast<const uint8_t*>(buf), size);
  });
}

gw_status gw_layer_stats(gw_comm_t comm, const char* layer, gw_stats* stats) {
  return guarded("gw_layer_stats", [&] {
    Exclusive c(comm);
    check_layer(layer);
    GW_REQUIRE(stats != nullptr, GW_ERR_INVALID_ARGUMENT, "stats is NULL");
    fill_stats(c->layer_stats(layer), stats);
  });
}

gw_status gw_comm_stats(gw_comm_t comm, gw_stats* stats) {
  return guarded("gw_comm_stats", [&] {
    Exclusive c(comm);
    GW_REQUIRE(stats != nullptr, GW_ERR_INVALID_ARGUMENT, "stats is NULL");
    fill_stats(c->total_stats(), stats);
  });
}

gw_status gw_stats_reset(gw_comm_t comm) {
  return guarded("gw_stats_reset", [&] { Exclusive(comm)->reset_stats(); });
}

}  // extern "C"
