#include "algo/stream_collective.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <map>

#include "algo/device_kernels.cuh"
#include "algo/plain_collective.h"
#include "core/device_compressor.h"
#include "common/rng.h"
#include "core/device_util.cuh"
#include "wire/header.h"

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

__global__ void write_header_kernel(uint8_t* msg, MessageHeader h, int* nonfinite) {
  if (*nonfinite) h.flags |= kFlagNonfinite;
  *nonfinite = 0;  // the next message reports its own encodes
  memcpy(msg, &h, sizeof(h));
}

// Thread k checks the header of rank k's message against `want` (this rank's
// own header, i.e. its plan). The first failure anywhere claims the record.
__global__ void check_headers_kernel(const uint8_t* msgs, size_t stride, int n, MessageHeader want,
                                     int nonfinite_is_error, int* claim, int* bad, DeviceFailure* out) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
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
  cmp(16, h.payload_bytes, want.payload_bytes);
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
    for (auto* ev : {&call_done_, &encoded_[0], &encoded_[1], &sent_[0], &sent_[1], &decoded_[0], &decoded_[1]})
      devutil::check(cudaEventCreateWithFlags(ev, cudaEventDisableTiming), "cudaEventCreate");
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
    for (int p = 0; p < 2; ++p) cudaFree(d_send_[p]), cudaFree(d_recv_[p]);
    cudaFree(d_flags_);
    cudaFreeHost(const_cast<DeviceFailure*>(h_fail_));
    for (auto ev : {call_done_, encoded_[0], encoded_[1], sent_[0], sent_[1], decoded_[0], decoded_[1]})
      cudaEventDestroy(ev);
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
                 void* out, void* stream_ptr, const std::string& what) override;

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
  size_t payload_of_round(const CallPlan& plan, size_t r) const {
    size_t bytes = 0;
    for (const Piece& p : plan.rounds[r].pieces) bytes += plan.segments[p.segment].codec->encoded_bytes(p.count);
    return bytes;
  }

  const int device_;
  cudaStream_t side_ = nullptr;
  cudaEvent_t call_done_ = nullptr, encoded_[2] = {}, sent_[2] = {}, decoded_[2] = {};
  bool have_call_done_ = false;
  cudaStream_t last_stream_ = nullptr;
  uint8_t* d_send_[2] = {nullptr, nullptr};
  uint8_t* d_recv_[2] = {nullptr, nullptr};
  size_t send_cap_[2] = {0, 0}, recv_cap_[2] = {0, 0};
  int* d_flags_ = nullptr;  // [0] non-finite input seen by encode, [1] claim, [2] output poisoned
  volatile DeviceFailure* h_fail_ = nullptr;
  DeviceFailure* d_fail_ = nullptr;
  std::map<const Compressor*, std::unique_ptr<DeviceCompressor>> twins_;
};

CallResult StreamCollectiveImpl::run(StreamTransport& t, const CallPlan& plan, const Config& cfg, uint64_t seq,
                                     const void* in_v, void* out_v, void* stream_ptr, const std::string& what) {
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
    GW_REQUIRE(plan.algorithm == Algorithm::kAllgather, GW_ERR_INTERNAL, "stream path given a non-allgather plan");
    const float* in = static_cast<const float*>(in_v);
    float* out = static_cast<float*>(out_v);
    const size_t rounds = plan.rounds.size();
    size_t most = 0;
    for (size_t r = 0; r < rounds; ++r) most = std::max(most, payload_of_round(plan, r));
    const size_t stride_cap = round_up(sizeof(MessageHeader) + most, kAlign);
    for (int p = 0; p < 2; ++p) {
      grow(&d_send_[p], &send_cap_[p], stride_cap);
      grow(&d_recv_[p], &recv_cap_[p], stride_cap * static_cast<size_t>(n));
    }
    for (const Segment& seg : plan.segments) twin(*seg.codec);
    const bool avg = plan.kind == CallKind::kAllreduce && plan.op == GW_AVG;

    auto encode = [&](size_t r) {
      const int p = r & 1;
      size_t off = sizeof(MessageHeader);
      for (const Piece& pc : plan.rounds[r].pieces) {
        const Segment& seg = plan.segments[pc.segment];
        const uint64_t key = rng_derive_key(cfg.seed, seg.layer->step, seg.layer->name_hash,
                                            static_cast<uint64_t>(rank), pc.begin - seg.offset);
        off += twins_.at(seg.codec.get())->encode(in + pc.begin, pc.count, d_send_[p] + off, key, d_flags_, s);
        result.per_segment[pc.segment].bytes_sent += seg.codec->encoded_bytes(pc.count) * (n - 1);
        result.per_segment[pc.segment].bytes_received += seg.codec->encoded_bytes(pc.count) * (n - 1);
      }
      MessageHeader h;
      write_header(reinterpret_cast<uint8_t*>(&h), plan.fingerprint, seq, static_cast<uint32_t>(r), rank, 0,
                   GW_SUCCESS, off - sizeof(MessageHeader), false);
      write_header_kernel<<<1, 1, 0, s>>>(d_send_[p], h, d_flags_);
      devutil::check_launch("write_header");
      if (!plan.segments.empty()) {
        result.per_segment[0].bytes_sent += sizeof(MessageHeader) * (n - 1);
        result.per_segment[0].bytes_received += sizeof(MessageHeader) * (n - 1);
      }
      devutil::check(cudaEventRecord(encoded_[p], s), "cudaEventRecord");
      // The exchange, on the side stream: after the encode, and after the
      // decode that last read this receive buffer (two rounds ago).
      devutil::check(cudaStreamWaitEvent(side_, encoded_[p], 0), "cudaStreamWaitEvent");
      if (r >= 2) devutil::check(cudaStreamWaitEvent(side_, decoded_[p], 0), "cudaStreamWaitEvent");
      t.allgather(d_send_[p], d_recv_[p], round_up(off, 16), side_);
      devutil::check(cudaEventRecord(sent_[p], side_), "cudaEventRecord");
      return h;
    };
    MessageHeader headers[2] = {};
    auto decode = [&](size_t r) {
      const int p = r & 1;
      const size_t stride = round_up(sizeof(MessageHeader) + payload_of_round(plan, r), 16);
      devutil::check(cudaStreamWaitEvent(s, sent_[p], 0), "cudaStreamWaitEvent");
      check_headers_kernel<<<1, 128, 0, s>>>(d_recv_[p], stride, n, headers[p],
                                             cfg.nonfinite == NonfinitePolicy::kError, d_flags_ + 1, d_flags_ + 2,
                                             d_fail_);
      devutil::check_launch("check_headers");
      size_t off = sizeof(MessageHeader);
      for (const Piece& pc : plan.rounds[r].pieces) {
        const Compressor& codec = *plan.segments[pc.segment].codec;
        const DeviceCompressor& dc = *twins_.at(&codec);
        const size_t bytes = codec.encoded_bytes(pc.count);
        for (int src = 0; src < n; ++src) {
          const uint8_t* msg = d_recv_[p] + static_cast<size_t>(src) * stride + off;
          if (plan.kind == CallKind::kAllgather)
            dc.decode(msg, bytes, pc.count, out + static_cast<size_t>(src) * plan.total + pc.begin, s);
          else if (src == 0)
            dc.decode(msg, bytes, pc.count, out + pc.begin, s);
          else
            dc.decode_add(msg, bytes, pc.count, out + pc.begin, s);
        }
        off += bytes;
      }
      // The mean: one launch per contiguous run of the round's pieces.
      const std::vector<Piece>& pieces = plan.rounds[r].pieces;
      for (size_t i = 0; avg && n > 1 && i < pieces.size();) {
        size_t j = i + 1;
        while (j < pieces.size() && pieces[j].begin == pieces[j - 1].begin + pieces[j - 1].count) ++j;
        const size_t first = pieces[i].begin, last = pieces[j - 1].begin + pieces[j - 1].count;
        devkernels::scale(out + first, last - first, 1.0f / static_cast<float>(n), s);
        i = j;
      }
      devutil::check(cudaEventRecord(decoded_[p], s), "cudaEventRecord");
    };
    for (size_t r = 0; r < rounds; ++r) {
      headers[r & 1] = encode(r);
      if (r >= 1) decode(r - 1);
    }
    decode(rounds - 1);
    // A failed header check anywhere poisons the output instead of passing garbage on.
    if (plan.kind == CallKind::kAllgather) {
      devkernels::poison_if(out, plan.total * static_cast<size_t>(n), d_flags_ + 2, s);
    } else {
      for (const auto& r : merged_ranges(plan)) devkernels::poison_if(out + r.first, r.second, d_flags_ + 2, s);
    }
  }
  devutil::check(cudaEventRecord(call_done_, s), "cudaEventRecord (call done)");
  have_call_done_ = true;
  last_stream_ = s;
  return result;
}

}  // namespace

std::unique_ptr<StreamCollective> make_stream_collective(int device) {
  return std::unique_ptr<StreamCollective>(new StreamCollectiveImpl(device));
}

}  // namespace gw
