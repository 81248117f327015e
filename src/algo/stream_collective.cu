#include "src/algo/stream_collective.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "src/algo/device_kernels.cuh"
#include "src/algo/exchange_order.h"
#include "src/algo/plain_collective.h"
#include "src/core/device_compressor.h"
#include "src/common/rng.h"
#include "src/core/device_util.cuh"
#include "src/wire/header.h"

namespace gw {
namespace {

// Written by the device (header check), read by the host without waiting.
struct DeviceFailure {
  volatile int status;  // 0 = none; set last, after the fields
  int peer, field, pad;
  unsigned long long seq, theirs, ours;
};

// Index = DeviceFailure::field; wording as in the host check (wire/header.cpp).
const char* const kFieldNames[] = {"magic number (not a gradwire message)", "wire format version",
                                   "abort flag", "checksum setting", "sender rank in header",
                                   "exchange index", "collective call number (ranks called collectives in a different order)",
                                   "collective kind (allreduce/allgather)", "reduction op", "dtype", "algorithm",
                                   "number of layers", "element count", "layer names or layout", "compressor spec",
                                   "chunk_bytes", "payload length", "NaN or Inf in the input"};
enum Field { kNonfiniteField = 17 };

// `last`: the exchange's last header (an SRA scatter writes one per peer);
// then the flag is cleared, so the next exchange reports its own encodes.
__global__ void write_header_kernel(uint8_t* msg, MessageHeader h, int* nonfinite, int last) {
  if (*nonfinite) h.flags |= kFlagNonfinite;
  if (last) *nonfinite = 0;
  memcpy(msg, &h, sizeof(h));
}

// Thread k checks the header of rank k's message against `want` (this rank's
// own header, i.e. its plan). The first failure anywhere claims the record.
// The payload length must lie in [want.payload_bytes, payload_hi]: exact for
// allgather and scatter messages; SRA gather messages carry their sender's
// part, whose length differs by part (the other fields pin the plan exactly).
// Slot `skip` (the SRA owner's own part, never sent) is not checked.
__global__ void check_headers_kernel(const uint8_t* msgs, size_t stride, int n, int skip, MessageHeader want,
                                     uint64_t payload_hi, int nonfinite_is_error, int* claim, int* bad,
                                     DeviceFailure* out) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n || k == skip) return;
  MessageHeader h;
  memcpy(&h, msgs + static_cast<size_t>(k) * stride, sizeof(h));
  int field = -1;
  unsigned long long theirs = 0, ours = 0;
  auto cmp = [&](int f, unsigned long long a, unsigned long long b) {
    if (field < 0 && a != b) field = f, theirs = a, ours = b;
  };
  cmp(0, h.magic, kWireMagic);
  cmp(1, h.version, want.version);
  cmp(2, h.flags & kFlagAbort, 0);
  cmp(3, h.flags & kFlagChecksum, want.flags & kFlagChecksum);
  cmp(4, h.sender, static_cast<unsigned>(k));
  cmp(5, h.exchange, want.exchange);
  cmp(6, h.seq, want.seq);
  cmp(7, h.kind, want.kind);
  cmp(8, h.op, want.op);
  cmp(9, h.dtype, want.dtype);
  cmp(10, h.algorithm, want.algorithm);
  cmp(11, h.num_layers, want.num_layers);
  cmp(12, h.count, want.count);
  cmp(13, h.layers_hash, want.layers_hash);
  cmp(14, h.specs_hash, want.specs_hash);
  cmp(15, h.chunk_elems_lo, want.chunk_elems_lo);
  if (h.payload_bytes < want.payload_bytes || h.payload_bytes > payload_hi) cmp(16, h.payload_bytes, want.payload_bytes);
  if (nonfinite_is_error) cmp(kNonfiniteField, h.flags & kFlagNonfinite, 0);
  if (field < 0) return;
  *bad = 1;
  if (atomicCAS(claim, 0, 1) != 0) return;
  out->peer = k;
  out->field = field;
  out->seq = want.seq;
  out->theirs = theirs;
  out->ours = ours;
  __threadfence_system();
  out->status = field == kNonfiniteField ? GW_ERR_NONFINITE : field == 0 ? GW_ERR_CORRUPT : GW_ERR_MISMATCH;
}

// Makes `device` current for a scope (the communicator's resources live there).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    if (previous_ != device) devutil::check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() {
    int now = -1;
    cudaGetDevice(&now);
    if (now != previous_) cudaSetDevice(previous_);
  }

 private:
  int previous_ = 0;
};

constexpr size_t kAlign = 256;
size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

class StreamCollectiveImpl final : public StreamCollective {
 public:
  explicit StreamCollectiveImpl(int device) : device_(device) {
    DeviceGuard on(device_);
    devutil::check(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "cudaStreamCreate (side stream)");
    devutil::check(cudaEventCreateWithFlags(&call_done_, cudaEventDisableTiming), "cudaEventCreate");
    for (Buffers& b : bufs_[0]) b.create_events();
    for (Buffers& b : bufs_[1]) b.create_events();
    devutil::check(cudaMalloc(&d_flags_, 3 * sizeof(int)), "cudaMalloc (flags)");
    devutil::check(cudaMemset(d_flags_, 0, 3 * sizeof(int)), "cudaMemset (flags)");
    void* host = nullptr;
    devutil::check(cudaHostAlloc(&host, sizeof(DeviceFailure), cudaHostAllocMapped), "cudaHostAlloc (failure record)");
    h_fail_ = static_cast<DeviceFailure*>(host);
    std::memset(const_cast<DeviceFailure*>(h_fail_), 0, sizeof(DeviceFailure));
    devutil::check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&d_fail_), const_cast<DeviceFailure*>(h_fail_), 0),
                   "cudaHostGetDevicePointer");
  }

  ~StreamCollectiveImpl() override {
    DeviceGuard on(device_);
    // Work of the last call may still run: wait for it before freeing what it uses.
    cudaEventSynchronize(call_done_);
    cudaStreamSynchronize(side_);
    for (Buffers& b : bufs_[0]) b.release();
    for (Buffers& b : bufs_[1]) b.release();
    cudaFree(d_flags_);
    cudaFree(d_check_);
    cudaFreeHost(h_check_);
    cudaFreeHost(const_cast<DeviceFailure*>(h_fail_));
    cudaEventDestroy(call_done_);
    cudaStreamDestroy(side_);
  }

  void check_async() override {
    if (h_fail_->status == 0) return;
    const DeviceFailure f = *const_cast<const DeviceFailure*>(h_fail_);
    const char* field = f.field >= 0 && f.field <= kNonfiniteField ? kFieldNames[f.field] : "?";
    if (f.status == GW_ERR_NONFINITE)
      fail(GW_ERR_NONFINITE, "NaN or Inf in the input of rank ", f.peer, " in call #", f.seq,
           " (nonfinite=error; found on the device: that call's output and every later one is NaN)");
    fail(static_cast<gw_status>(f.status), "rank ", f.peer, "'s message of call #", f.seq, " disagrees on ", field,
         " (rank ", f.peer, ": ", f.theirs, ", this rank: ", f.ours,
         "; found on the device: that call's output and every later one is NaN)");
  }

  CallResult run(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq, const void* in,
                 void* out, void* stream_ptr, const std::string& what, bool check_plan) override;

 private:
  const DeviceCompressor& twin(const Compressor& c) {
    auto it = twins_.find(&c);
    if (it != twins_.end()) return *it->second;
    std::unique_ptr<DeviceCompressor> d = make_device_compressor(c);
    GW_REQUIRE(d != nullptr, GW_ERR_UNSUPPORTED, "compressor '", c.spec(),
               "' has no GPU implementation, which the NCCL transport needs");
    return *(twins_[&c] = std::move(d));
  }
  static void grow(uint8_t** p, size_t* cap, size_t want) {
    if (*cap >= want) return;
    cudaFree(*p);  // waits for the device: nothing still uses the old buffer
    *p = nullptr;
    *cap = 0;
    devutil::check(cudaMalloc(p, want), "cudaMalloc (message buffers)");
    *cap = want;
  }
  // Payload bytes of a message of exchange e holding SRA part `part` (all
  // values for allgather).
  static size_t payload_bytes(const CallPlan& plan, const Exchange& e, int part, int n) {
    size_t bytes = 0;
    for (const Piece& p : plan.rounds[e.round].pieces)
      bytes += plan.segments[p.segment].codec->encoded_bytes(piece_count(e, p, part, n));
    return bytes;
  }
  void check_plans(StreamTransport& t, const CallPlan& plan, uint64_t seq, cudaStream_t s, const std::string& what);
  void run_compressed(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq, const float* in,
                      float* out, cudaStream_t s, CallResult& result);

  const int device_;
  cudaStream_t side_ = nullptr;
  cudaEvent_t call_done_ = nullptr;
  bool have_call_done_ = false;
  cudaStream_t last_stream_ = nullptr;
  // The message buffers of one exchange and the events that order their reuse:
  // produced (encoded + headers, caller's stream), exchanged (side stream),
  // consumed (decoded, caller's stream).
  struct Buffers {
    uint8_t* send = nullptr;
    uint8_t* recv = nullptr;
    size_t send_cap = 0, recv_cap = 0;
    cudaEvent_t produced = nullptr, exchanged = nullptr, consumed = nullptr;
    void create_events() {
      for (auto* ev : {&produced, &exchanged, &consumed})
        devutil::check(cudaEventCreateWithFlags(ev, cudaEventDisableTiming), "cudaEventCreate");
    }
    void release() {
      cudaFree(send), cudaFree(recv);
      for (auto ev : {produced, exchanged, consumed}) cudaEventDestroy(ev);
    }
  };
  Buffers bufs_[2][2];  // [Exchange::set_kind()][Exchange::parity()]
  // run_compressed's bookkeeping, reused call after call.
  std::vector<Exchange> ex_;
  std::vector<size_t> stride_, lo_, hi_, scatter_of_, off_;
  // The plan check's headers: this rank's, then every rank's, on both sides.
  uint8_t* h_check_ = nullptr;
  uint8_t* d_check_ = nullptr;
  int check_ranks_ = 0;
  int* d_flags_ = nullptr;  // [0] non-finite input seen by encode, [1] claim, [2] output poisoned
  volatile DeviceFailure* h_fail_ = nullptr;
  DeviceFailure* d_fail_ = nullptr;
  std::map<const Compressor*, std::unique_ptr<DeviceCompressor>> twins_;
};

// Every rank's bare header (exchange 0, no payload) gathered and compared on
// the host: the one place the stream path waits for the device.
void StreamCollectiveImpl::check_plans(StreamTransport& t, const CallPlan& plan, uint64_t seq, cudaStream_t s,
                                       const std::string& what) {
  const int n = t.size(), rank = t.rank();
  const size_t hdr = sizeof(MessageHeader);
  if (check_ranks_ < n) {
    devutil::check(cudaStreamSynchronize(s), "cudaStreamSynchronize (plan check)");  // old buffers may be in use
    cudaFree(d_check_), cudaFreeHost(h_check_);
    d_check_ = nullptr, h_check_ = nullptr, check_ranks_ = 0;
    devutil::check(cudaMalloc(&d_check_, hdr * (n + 1)), "cudaMalloc (plan check)");
    devutil::check(cudaHostAlloc(&h_check_, hdr * (n + 1), cudaHostAllocDefault), "cudaHostAlloc (plan check)");
    check_ranks_ = n;
  }
  write_header(h_check_, plan.fingerprint, seq, 0, rank, 0, GW_SUCCESS, 0, false);
  devutil::check(cudaMemcpyAsync(d_check_, h_check_, hdr, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (plan check)");
  t.allgather(d_check_, d_check_ + hdr, hdr, s);
  devutil::check(cudaMemcpyAsync(h_check_ + hdr, d_check_ + hdr, hdr * n, cudaMemcpyDeviceToHost, s),
                 "cudaMemcpyAsync (plan check)");
  devutil::check(cudaStreamSynchronize(s), "cudaStreamSynchronize (plan check)");
  const std::string transport_error = t.async_error();
  GW_REQUIRE(transport_error.empty(), GW_ERR_SYSTEM, t.name(), " failed during the plan check of ", what, ": ",
             transport_error);
  // Every rank sees the same gathered bytes, its own header included, so a
  // disagreement (or damage) is an error on every rank alike.
  for (int k = 0; k < n; ++k)
    validate_message(h_check_ + hdr * (k + 1), hdr, k, rank, plan.fingerprint, seq, 0, 0, false, what, false);
}

CallResult StreamCollectiveImpl::run(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq,
                                     const void* in_v, void* out_v, void* stream_ptr, const std::string& what,
                                     bool check_plan) {
  cudaStream_t s = devutil::as_stream(stream_ptr);
  int current = -1;
  devutil::check(cudaGetDevice(&current), "cudaGetDevice");
  GW_REQUIRE(current == device_, GW_ERR_INVALID_USAGE, "the calling thread's current CUDA device is ", current,
             ", but this communicator's NCCL rank lives on device ", device_, " (", what, ")");
  const int n = t.size(), rank = t.rank();
  CallResult result;
  result.per_segment.resize(plan.segments.size());
  // Calls on one communicator run in call order, whatever streams they come on
  // (on the previous call's stream, that order is given).
  if (have_call_done_ && s != last_stream_)
    devutil::check(cudaStreamWaitEvent(s, call_done_, 0), "cudaStreamWaitEvent (previous call)");
  if (check_plan) check_plans(t, plan, seq, s, what);

  if (plan.algorithm == Algorithm::kPlain) {
    const size_t esize = plan.dtype == GW_FLOAT32 ? 4 : 2;
    if (plan.kind == CallKind::kAllgather) {
      t.allgather(in_v, out_v, plan.total * esize, s);
    } else {
      for (const auto& r : merged_ranges(plan))
        t.allreduce(static_cast<const char*>(in_v) + r.first * esize, static_cast<char*>(out_v) + r.first * esize,
                    r.second, plan.dtype, plan.op, s);
    }
    const double share = plan.kind == CallKind::kAllgather ? n - 1.0 : 2.0 * (n - 1) / n;
    for (size_t i = 0; i < plan.segments.size(); ++i)
      result.per_segment[i].bytes_sent = result.per_segment[i].bytes_received =
          static_cast<uint64_t>(share * plan.segments[i].count * esize);
  } else {
    GW_REQUIRE(plan.dtype == GW_FLOAT32, GW_ERR_UNSUPPORTED,
               "the NCCL transport compresses fp32 buffers only; fp16/bf16 calls up to fallback_bytes go "
               "uncompressed (", what, ")");
    run_compressed(t, plan, cfg, seq, static_cast<const float*>(in_v), static_cast<float*>(out_v), s, result);
  }
  devutil::check(cudaEventRecord(call_done_, s), "cudaEventRecord (call done)");
  have_call_done_ = true;
  last_stream_ = s;
  return result;
}

void StreamCollectiveImpl::run_compressed(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq,
                                          const float* in, float* out, cudaStream_t s, CallResult& result) {
  const int n = t.size(), rank = t.rank();
  const size_t hdr = sizeof(MessageHeader);
  // Per-call bookkeeping in member vectors: no host allocation once warm.
  std::vector<Exchange>& ex = ex_;
  exchange_order(plan, ex);
  for (const Segment& seg : plan.segments) twin(*seg.codec);

  // Slot stride of each exchange (its largest message) and buffer sizes: an SRA
  // scatter sends one slot per peer, everything else one slot; all receive n.
  std::vector<size_t>&stride = stride_, &lo = lo_, &hi = hi_, &scatter_of = scatter_of_;
  stride.assign(ex.size(), 0), lo.assign(ex.size(), 0), hi.assign(ex.size(), 0);
  scatter_of.assign(plan.rounds.size(), 0);  // exchange index of round r's scatter
  size_t need_send[2] = {0, 0}, need_recv[2] = {0, 0};
  for (size_t i = 0; i < ex.size(); ++i) {
    const Exchange& e = ex[i];
    lo[i] = hi[i] = payload_bytes(plan, e, rank, n);
    if (e.type == ExType::kGather) {
      for (int part = 0; part < n; ++part) {
        const size_t b = payload_bytes(plan, e, part, n);
        lo[i] = std::min(lo[i], b), hi[i] = std::max(hi[i], b);
      }
    } else if (e.type == ExType::kScatter) {
      scatter_of[e.round] = i;
      for (int part = 0; part < n; ++part) hi[i] = std::max(hi[i], payload_bytes(plan, e, part, n));
    }
    stride[i] = round_up(hdr + hi[i], 16);
    const int k = e.set_kind();
    need_send[k] = std::max(need_send[k], stride[i] * (e.type == ExType::kScatter ? n : 1));
    need_recv[k] = std::max(need_recv[k], stride[i] * n);
  }
  for (int k = 0; k < 2; ++k) {
    for (Buffers& b : bufs_[k]) {
      grow(&b.send, &b.send_cap, round_up(need_send[k], kAlign));
      grow(&b.recv, &b.recv_cap, round_up(need_recv[k], kAlign));
    }
  }
  const bool avg = plan.kind == CallKind::kAllreduce && plan.op == GW_AVG;
  const float inv_n = 1.0f / static_cast<float>(n);
  bool used[2][2] = {};
  auto count_header = [&](uint64_t copies, bool sent) {
    if (plan.segments.empty()) return;
    (sent ? result.per_segment[0].bytes_sent : result.per_segment[0].bytes_received) += hdr * copies;
  };

  // Encode (caller's stream), then the exchange (side stream) after the encode
  // and after the decode that last read the same buffers (two rounds ago).
  auto produce = [&](size_t i) {
    const Exchange& e = ex[i];
    Buffers& b = bufs_[e.set_kind()][e.parity()];
    const bool scatter = e.type == ExType::kScatter;
    const int last_dst = scatter ? (rank == n - 1 ? n - 2 : n - 1) : 0;
    for (int dst = 0; dst < n; ++dst) {
      if (scatter ? dst == rank : dst != 0) continue;
      const int part = scatter ? dst : rank;  // which values the message holds
      uint8_t* msg = b.send + (scatter ? static_cast<size_t>(dst) * stride[i] : 0);
      size_t off = hdr;
      for (const Piece& pc : plan.rounds[e.round].pieces) {
        const Segment& seg = plan.segments[pc.segment];
        size_t first = pc.begin, count = pc.count;
        if (e.type != ExType::kAllgather) piece_part(pc, part, n, &first, &count);
        const bool gather = e.type == ExType::kGather;  // the owner's reduced part
        const uint64_t key = piece_key(cfg.seed, seg, rank, first, gather ? kPhaseGather : 0);
        off += twins_.at(seg.codec.get())->encode((gather ? out : in) + first, count, msg + off, key, d_flags_, s);
        result.per_segment[pc.segment].bytes_sent += seg.codec->encoded_bytes(count) * (scatter ? 1 : n - 1);
      }
      MessageHeader h;
      write_header(reinterpret_cast<uint8_t*>(&h), plan.fingerprint, seq, static_cast<uint32_t>(i), rank, 0,
                   GW_SUCCESS, off - hdr, false);
      write_header_kernel<<<1, 1, 0, s>>>(msg, h, d_flags_, dst == last_dst ? 1 : 0);
      devutil::check_launch("write_header");
      count_header(scatter ? 1 : n - 1, true);
    }
    devutil::check(cudaEventRecord(b.produced, s), "cudaEventRecord");
    devutil::check(cudaStreamWaitEvent(side_, b.produced, 0), "cudaStreamWaitEvent");
    bool& again = used[e.set_kind()][e.parity()];
    if (again) devutil::check(cudaStreamWaitEvent(side_, b.consumed, 0), "cudaStreamWaitEvent");
    again = true;
    if (scatter)
      t.alltoall(b.send, b.recv, stride[i], stride[i], side_);
    else
      t.allgather(b.send, b.recv, stride[i], side_);
    devutil::check(cudaEventRecord(b.exchanged, side_), "cudaEventRecord");
  };

  // Header check, then decode (caller's stream) after the exchange.
  auto consume = [&](size_t i) {
    const Exchange& e = ex[i];
    Buffers& b = bufs_[e.set_kind()][e.parity()];
    devutil::check(cudaStreamWaitEvent(s, b.exchanged, 0), "cudaStreamWaitEvent");
    MessageHeader want;
    write_header(reinterpret_cast<uint8_t*>(&want), plan.fingerprint, seq, static_cast<uint32_t>(i), rank, 0,
                 GW_SUCCESS, lo[i], false);
    // A gather carries the owner's reduced part: NaN there comes from some
    // rank's input, already judged at the scatter (as on the host path).
    const int nonfinite_is_error = cfg.nonfinite == NonfinitePolicy::kError && e.type != ExType::kGather;
    check_headers_kernel<<<(n + 127) / 128, 128, 0, s>>>(b.recv, stride[i], n,
                                                         e.type == ExType::kScatter ? rank : -1, want,
                                                         e.type == ExType::kGather ? hi[i] : lo[i],
                                                         nonfinite_is_error, d_flags_ + 1, d_flags_ + 2, d_fail_);
    devutil::check_launch("check_headers");
    count_header(n - 1, false);
    std::vector<size_t>& off = off_;  // where each source's next piece starts in its slot
    off.assign(n, hdr);
    auto take = [&](int src, size_t bytes) {
      const uint8_t* at = b.recv + static_cast<size_t>(src) * stride[i] + off[src];
      off[src] += bytes;
      return at;
    };
    for (const Piece& pc : plan.rounds[e.round].pieces) {
      const Compressor& codec = *plan.segments[pc.segment].codec;
      const DeviceCompressor& dc = *twins_.at(&codec);
      LayerStats& st = result.per_segment[pc.segment];
      size_t first, count;
      if (e.type == ExType::kAllgather) {
        const size_t bytes = codec.encoded_bytes(pc.count);
        for (int src = 0; src < n; ++src) {
          if (plan.kind == CallKind::kAllgather)
            dc.decode(take(src, bytes), bytes, pc.count, out + static_cast<size_t>(src) * plan.total + pc.begin, s);
          else if (src == 0)
            dc.decode(take(src, bytes), bytes, pc.count, out + pc.begin, s);
          else
            dc.decode_add(take(src, bytes), bytes, pc.count, out + pc.begin, s);
        }
        st.bytes_received += bytes * (n - 1);
      } else if (e.type == ExType::kScatter) {
        // Owner of part `rank`: own raw values plus every peer's decoded part, in rank order.
        piece_part(pc, rank, n, &first, &count);
        const size_t bytes = codec.encoded_bytes(count);
        if (count > 0 && in != out)
          devutil::check(cudaMemcpyAsync(out + first, in + first, count * sizeof(float), cudaMemcpyDeviceToDevice, s),
                         "cudaMemcpyAsync (own part)");
        for (int src = 0; src < n; ++src)
          if (src != rank) dc.decode_add(take(src, bytes), bytes, count, out + first, s);
        if (avg) devkernels::scale(out + first, count, inv_n, s);
        st.bytes_received += bytes * (n - 1);
      } else {
        // Gather: every part from its owner's re-encoded payload (own one too).
        for (int src = 0; src < n; ++src) {
          piece_part(pc, src, n, &first, &count);
          const size_t bytes = codec.encoded_bytes(count);
          dc.decode(take(src, bytes), bytes, count, out + first, s);
          if (src != rank) st.bytes_received += bytes;
        }
      }
    }
    // The allgather algorithm's mean: one launch per contiguous run of the round's pieces.
    const std::vector<Piece>& pieces = plan.rounds[e.round].pieces;
    for (size_t a = 0; e.type == ExType::kAllgather && avg && n > 1 && a < pieces.size();) {
      size_t z = a + 1;
      while (z < pieces.size() && pieces[z].begin == pieces[z - 1].begin + pieces[z - 1].count) ++z;
      const size_t from = pieces[a].begin, to = pieces[z - 1].begin + pieces[z - 1].count;
      devkernels::scale(out + from, to - from, inv_n, s);
      a = z;
    }
    devutil::check(cudaEventRecord(b.consumed, s), "cudaEventRecord");
  };

  // One exchange on the wire while the next is encoded; a gather waits for its
  // round's scatter to be reduced.
  size_t next = 0;  // next exchange to consume
  for (size_t i = 0; i < ex.size(); ++i) {
    if (ex[i].type == ExType::kGather)
      while (next <= scatter_of[ex[i].round]) consume(next++);
    produce(i);
    while (next < i) consume(next++);
  }
  while (next < ex.size()) consume(next++);

  // A failed header check anywhere poisons the output instead of passing garbage on.
  if (plan.kind == CallKind::kAllgather) {
    devkernels::poison_if(out, plan.total * static_cast<size_t>(n), d_flags_ + 2, s);
  } else {
    for (const auto& r : merged_ranges(plan)) devkernels::poison_if(out + r.first, r.second, d_flags_ + 2, s);
  }
}

}  // namespace

std::unique_ptr<StreamCollective> make_stream_collective(int device) {
  return std::unique_ptr<StreamCollective>(new StreamCollectiveImpl(device));
}

}  // namespace gw
