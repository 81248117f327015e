#include "comm/communicator.h"

#include <chrono>
#include <cstring>
#include <limits>

#include "algo/plain_collective.h"
#include "common/error.h"
#include "common/half.h"
#include "common/hash.h"
#include "common/log.h"
#include "spec/registry.h"

namespace gw {
namespace {

size_t dtype_size(gw_dtype d) { return d == GW_FLOAT32 ? 4 : 2; }

void to_float(const void* src, float* dst, size_t n, gw_dtype d) {
  if (d == GW_FLOAT16) half_to_float(static_cast<const uint16_t*>(src), dst, n);
  else bf16_to_float(static_cast<const uint16_t*>(src), dst, n);
}
void from_float(const float* src, void* dst, size_t n, gw_dtype d) {
  if (d == GW_FLOAT16) float_to_half(src, static_cast<uint16_t*>(dst), n);
  else float_to_bf16(src, static_cast<uint16_t*>(dst), n);
}

}  // namespace

Communicator::Communicator(std::unique_ptr<Transport> transport, Config config)
    : transport_(std::move(transport)), config_(std::move(config)) {
  set_log_rank(transport_->rank());
  GW_LOG(INFO, "communicator created: transport ", transport_->name(), ", ", transport_->size(), " ranks, ",
         config_.describe());
}

Communicator::Communicator(std::unique_ptr<StreamTransport> transport, Config config)
    : stream_transport_(std::move(transport)), config_(std::move(config)) {
  set_log_rank(stream_transport_->rank());
  stream_ = make_stream_collective(stream_transport_->device());
  GW_REQUIRE(stream_ != nullptr, GW_ERR_UNSUPPORTED, "stream-ordered transports need a build with CUDA");
  GW_LOG(INFO, "communicator created: transport ", stream_transport_->name(), ", ", stream_transport_->size(),
         " ranks, ", config_.describe());
}

void Communicator::check_state(bool probe_peers) {
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the communicator is broken (", broken_reason_,
             "); destroy it and create a new one");
  if (transport_) {
    if (!probe_peers) return;
    try {
      transport_->check_peers("this call");  // a peer abandoned a call since the last one
    } catch (const Error& e) {
      note_broken(e);
      throw;
    }
    return;
  }
  try {
    stream_->check_async();
    std::string e = stream_transport_->async_error();
    if (!e.empty()) fail(GW_ERR_SYSTEM, stream_transport_->name(), " reported an asynchronous error: ", e);
  } catch (const Error& e) {
    note_broken(e);
    throw;
  }
}

void Communicator::note_broken(const Error& e) {
  broken_ = true;
  broken_reason_ = clip_text(e.what(), 400);
}

Communicator::~Communicator() {
  if (broken_ || (transport_ && transport_->broken())) {
    // Requests that timed out may still land in the workspace: keep it alive.
    new Workspace(std::move(ws_));
  }
}

Layer& Communicator::layer(const std::string& name) {
  auto it = layers_.find(name);
  if (it != layers_.end()) return *it->second;
  std::unique_ptr<Layer> l(new Layer());
  l->name = name;
  l->name_hash = fnv1a64(name);
  Layer& ref = *l;
  layers_.emplace(name, std::move(l));
  return ref;
}

std::shared_ptr<const Compressor> Communicator::codec_for(const Layer& l, size_t count, gw_dtype dtype) const {
  if (count * dtype_size(dtype) < config_.min_compress_bytes) return make_compressor("none");
  return make_compressor(l.spec_override.empty() ? config_.compressor : l.spec_override);
}

void Communicator::set_spec(const char* name, const char* spec) {
  std::string canonical = make_compressor(spec)->spec();  // validates before storing
  layer(name).spec_override = canonical;
}

void Communicator::set_shape(const char* name, const std::vector<int64_t>& dims) { layer(name).shape = dims; }

std::string Communicator::spec_of(const char* name) {
  const Layer& l = layer(name);
  return make_compressor(l.spec_override.empty() ? config_.compressor : l.spec_override)->spec();
}

void Communicator::allreduce(const std::vector<LayerRef>& refs, const void* send, void* recv, size_t total,
                             gw_dtype dtype, gw_op op, void* stream) {
  CallPlan plan;
  plan.kind = CallKind::kAllreduce;
  plan.op = op;
  plan.dtype = dtype;
  plan.total = total;
  for (const LayerRef& r : refs) {
    Segment s;
    s.layer = &layer(r.name);
    s.codec = codec_for(*s.layer, r.count, dtype);
    s.offset = r.offset;
    s.count = r.count;
    plan.segments.push_back(std::move(s));
  }
  run(plan, send, recv, total, total, stream);
}

void Communicator::allgather(const char* name, const void* send, void* recv, size_t count, gw_dtype dtype,
                             void* stream) {
  CallPlan plan;
  plan.kind = CallKind::kAllgather;
  plan.op = GW_SUM;
  plan.dtype = dtype;
  plan.total = count;
  Segment s;
  s.layer = &layer(name);
  s.codec = codec_for(*s.layer, count, dtype);
  s.offset = 0;
  s.count = count;
  plan.segments.push_back(std::move(s));
  run(plan, send, recv, count, count * static_cast<size_t>(size()), stream);
}

// Only the elements a call writes: every layer's range (allreduce leaves the
// gaps between layers alone), or the whole output (allgather).
template <typename F>
void for_each_output_range(const CallPlan& plan, size_t out_elems, F&& f) {
  if (plan.kind == CallKind::kAllgather) {
    f(size_t(0), out_elems);
    return;
  }
  for (const Segment& s : plan.segments) f(s.offset, s.count);
}

void Communicator::run(CallPlan& plan, const void* send, void* recv, size_t in_elems, size_t out_elems,
                       void* stream) {
  // A collective learns of a peer's abandon notice while it waits and when it
  // completes (account()); probing on entry as well cost a microsecond a call.
  check_state(false);
  if (stream_) {
    plan_call(plan, true);
    return run_stream(plan, send, recv, stream);
  }
  // Asking the driver where a pointer lives costs about a microsecond each,
  // as much as a small plain allreduce: remember the last call's answer.
  if (send != last_send_ || recv != last_recv_) {
    last_send_ = send;
    last_recv_ = recv;
    last_send_dev_ = is_device_pointer(send);
    last_recv_dev_ = is_device_pointer(recv);
  }
  const bool send_dev = last_send_dev_, recv_dev = last_recv_dev_;
  plan_call(plan, send_dev || recv_dev);
  if (!send_dev && !recv_dev) return run_host(plan, send, recv, in_elems, out_elems);

  // Device data: encode and decode on the GPU and stage only the compressed
  // payloads through pinned host memory, when every codec has a CUDA twin.
  ws_.pinned = true;
  if (send_dev && recv_dev && plan.dtype == GW_FLOAT32 && plan.algorithm != Algorithm::kPlain) {
    if (!ws_.device_ops) ws_.device_ops = make_device_ops();
    std::vector<const Compressor*> codecs;
    for (const Segment& s : plan.segments) codecs.push_back(s.codec.get());
    const size_t most = max_message_payload(plan, size());
    if (ws_.device_ops && ws_.device_ops->prepare(codecs, stream, most, most * static_cast<size_t>(size())))
      return execute(plan, static_cast<const float*>(send), static_cast<float*>(recv), *ws_.device_ops);
  }
  // Otherwise (fp16/bf16 data, a codec without a GPU twin, mixed pointers):
  // stage the whole buffers and run the host path on them.
  const size_t esize = dtype_size(plan.dtype);
  const void* send_h = send_dev ? staging_.download(0, send, in_elems * esize, stream) : send;
  void* recv_h = recv;
  if (recv_dev && send == recv) {
    recv_h = const_cast<void*>(send_h);  // in place: one staged copy
  } else if (recv_dev) {
    size_t covered = 0;
    for_each_output_range(plan, out_elems, [&](size_t, size_t n) { covered += n; });
    recv_h = covered == out_elems ? staging_.host(1, out_elems * esize)
                                  : staging_.download(1, recv, out_elems * esize, stream);  // keeps the gaps
  }
  run_host(plan, send_h, recv_h, in_elems, out_elems);
  if (recv_dev) {
    for_each_output_range(plan, out_elems, [&](size_t first, size_t n) {
      staging_.upload(static_cast<char*>(recv) + first * esize, static_cast<char*>(recv_h) + first * esize,
                      n * esize, stream);
    });
    staging_.wait(stream);
  }
}

void Communicator::plan_call(CallPlan& plan, bool device_data) const {
  const int n = size();
  // Algorithm: allgather-based sends (n-1) payloads per rank and quantizes
  // once; SRA sends 2(n-1)/n payloads but quantizes twice. At n <= 2 the bytes
  // are equal, so allgather wins; above that SRA wins once payloads dominate latency.
  if (plan.total * dtype_size(plan.dtype) <= config_.fallback_bytes) {
    plan.algorithm = Algorithm::kPlain;  // latency-bound: the transport's own collective wins
  } else if (plan.kind == CallKind::kAllgather) {
    plan.algorithm = Algorithm::kAllgather;
  } else if (config_.algorithm != Algorithm::kAuto) {
    plan.algorithm = config_.algorithm;
  } else {
    plan.algorithm = (n >= 3 && plan.total * dtype_size(plan.dtype) >= (256u << 10)) ? Algorithm::kSra
                                                                                   : Algorithm::kAllgather;
  }
  // chunk_bytes=auto: every round of the GPU paths costs fixed work (launches,
  // events, synchronizations) that small rounds do not amortize (see README).
  const size_t chunk = config_.chunk_bytes ? config_.chunk_bytes : device_data ? kDeviceChunkBytes : kHostChunkBytes;
  build_rounds(plan, std::max<size_t>(chunk / sizeof(float), 1));
}

void Communicator::run_host(CallPlan& plan, const void* send, void* recv, size_t in_elems, size_t out_elems) {
  // fp16/bf16 buffers are widened to fp32 for the codecs and narrowed at the end.
  const float* in = static_cast<const float*>(send);
  float* out = static_cast<float*>(recv);
  if (plan.dtype != GW_FLOAT32) {
    if (ws_.in32.size() < in_elems) ws_.in32.resize(in_elems);
    if (ws_.out32.size() < out_elems) ws_.out32.resize(out_elems);
    to_float(send, ws_.in32.data(), in_elems, plan.dtype);
    in = ws_.in32.data();
    out = ws_.out32.data();
  }
  if (!ws_.host_ops) ws_.host_ops = make_host_ops();
  execute(plan, in, out, *ws_.host_ops);
  if (plan.dtype != GW_FLOAT32)
    for_each_output_range(plan, out_elems, [&](size_t first, size_t n) {
      from_float(out + first, static_cast<uint16_t*>(recv) + first, n, plan.dtype);
    });
}

std::string Communicator::describe_call(const CallPlan& plan, uint64_t seq) const {
  if (plan.segments.size() == 1)
    return concat_parts(plan.kind == CallKind::kAllreduce ? "allreduce" : "allgather", " of layer '",
                        plan.segments[0].layer->name, "' (call #", seq, ")");
  return concat_parts("allreduce of ", plan.segments.size(), " layers starting at '",
                      plan.segments.empty() ? "" : plan.segments[0].layer->name, "' (call #", seq, ")");
}

template <typename Run>
void Communicator::account(CallPlan& plan, Run&& run) {
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t seq = seq_++;
  CallResult result;
  const std::string what = describe_call(plan, seq);
  try {
    result = run(seq, what);
    // A peer that gave this call up (timed out, or found our message bad in
    // its last exchange) may have told us by now: its result is not to be kept.
    if (transport_) transport_->check_peers(what);
  } catch (const Error& e) {
    for (Segment& s : plan.segments) s.layer->step++;
    // Peers may have completed the call this rank gave up: tell them.
    if (e.status() == GW_ERR_TIMEOUT && transport_) transport_->abandon(seq, GW_ERR_TIMEOUT);
    if (e.status() == GW_ERR_TIMEOUT || (transport_ && transport_->broken())) note_broken(e);
    // Headers carry only fingerprints: name this rank's side of a disagreement
    // in words (the call's own plan, whatever codec its exchange ran with).
    if (e.status() == GW_ERR_MISMATCH)
      throw Error(e.status(), concat_parts(e.what(), "; this rank (", rank(), ") has ", describe_plan(plan)));
    throw;
  }
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    Segment& s = plan.segments[i];
    LayerStats st = result.per_segment[i];
    st.calls = 1;
    st.elements = s.count;
    st.bytes_input = s.count * dtype_size(plan.dtype);
    st.total_s = plan.total ? total_s * static_cast<double>(s.count) / plan.total : total_s / plan.segments.size();
    s.layer->stats.add(st);
    s.layer->step++;
  }
}

void Communicator::execute(CallPlan& plan, const float* in, float* out, DataOps& ops) {
  account(plan, [&](uint64_t seq, const std::string& what) {
    return plan.algorithm == Algorithm::kPlain
               ? run_plain_collective(*transport_, ws_, ops, plan, config_, seq, in, out, what)
               : run_collective(*transport_, ws_, ops, plan, config_, seq, in, out, what);
  });
}

void Communicator::run_stream(CallPlan& plan, const void* send, void* recv, void* stream) {
  // Asking the driver costs a microsecond a pointer; training loops pass the same buffers again.
  if (plan.total > 0 && !(send == last_send_ && recv == last_recv_ && last_send_dev_ && last_recv_dev_)) {
    GW_REQUIRE(is_device_pointer(send) && is_device_pointer(recv), GW_ERR_INVALID_ARGUMENT, "the ",
               stream_transport_->name(), " transport takes device buffers (send and recv must be CUDA memory)");
    last_send_ = send;
    last_recv_ = recv;
    last_send_dev_ = last_recv_dev_ = true;
  }
  // Statistics count bytes; times are the host's enqueue times (nothing waits for the device).
  const bool check = plan_needs_check(plan, config_);
  account(plan, [&](uint64_t seq, const std::string& what) {
    return stream_->run(*stream_transport_, plan, config_, seq, send, recv, stream, what, check);
  });
  if (check) note_plan_checked(plan, true);  // a disagreement threw above
}

namespace {
// Checkpoint bytes: magic, version, layer-name hash, step, stats. Fixed
// little-endian layout; later versions append (residuals, factors).
constexpr uint32_t kStateMagic = 0x53545747u;  // "GWTS"
constexpr uint32_t kStateVersion = 1;
struct StateRecord {
  uint32_t magic, version;
  uint64_t name_hash, step;
  LayerStats stats;
};
}  // namespace

std::vector<uint8_t> Communicator::save_state(const char* name) {
  const Layer& l = layer(name);
  StateRecord rec{kStateMagic, kStateVersion, l.name_hash, l.step, l.stats};
  std::vector<uint8_t> out(sizeof(rec));
  std::memcpy(out.data(), &rec, sizeof(rec));
  return out;
}

void Communicator::load_state(const char* name, const uint8_t* buf, size_t size) {
  StateRecord rec;
  GW_REQUIRE(size == sizeof(rec), GW_ERR_CORRUPT, "state for layer '", name, "' has ", size, " bytes, expected ",
             sizeof(rec));
  std::memcpy(&rec, buf, sizeof(rec));
  GW_REQUIRE(rec.magic == kStateMagic, GW_ERR_CORRUPT, "state for layer '", name, "' is not a gradwire layer state");
  GW_REQUIRE(rec.version == kStateVersion, GW_ERR_CORRUPT, "state for layer '", name, "' has version ", rec.version,
             ", this library reads ", kStateVersion);
  Layer& l = layer(name);
  GW_REQUIRE(rec.name_hash == l.name_hash, GW_ERR_CORRUPT, "state given to layer '", name,
             "' was saved from another layer");
  l.step = rec.step;
  l.stats = rec.stats;
}

LayerStats Communicator::layer_stats(const char* name) const {
  auto it = layers_.find(name);
  GW_REQUIRE(it != layers_.end(), GW_ERR_INVALID_ARGUMENT, "no layer named '", name, "' on this communicator");
  return it->second->stats;
}

LayerStats Communicator::total_stats() const {
  LayerStats total;
  for (auto& kv : layers_) total.add(kv.second->stats);
  return total;
}

void Communicator::reset_stats() {
  for (auto& kv : layers_) kv.second->stats = LayerStats();
}

}  // namespace gw
