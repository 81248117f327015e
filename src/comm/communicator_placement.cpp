// Where a call runs: host data on the CPU codecs; device data encoded on the
// GPU with only payloads staged through pinned memory, or (fp16/bf16 data, a
// codec without a GPU twin, a peer rule, a round scheme without a device side:
// eden, lattice) staged whole to the host path. Error
// feedback state lives where the codecs run (scheme/layer_state.h).
#include <cstring>

#include "src/comm/communicator.h"
#include "src/comm/dtype.h"
#include "src/common/half.h"

namespace gw {
namespace {

void to_float(const void* src, float* dst, size_t n, gw_dtype d) {
  if (d == GW_FLOAT16) half_to_float(static_cast<const uint16_t*>(src), dst, n);
  else bf16_to_float(static_cast<const uint16_t*>(src), dst, n);
}
void from_float(const float* src, void* dst, size_t n, gw_dtype d) {
  if (d == GW_FLOAT16) float_to_half(src, static_cast<uint16_t*>(dst), n);
  else float_to_bf16(src, static_cast<uint16_t*>(dst), n);
}

}  // namespace

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
    for (const Segment& s : plan.segments)
      GW_REQUIRE(plan.algorithm == Algorithm::kPlain ||
                     (!s.codec->round_codec() && (!s.scheme || s.scheme->feedback == Feedback::kNone)),
                 GW_ERR_UNSUPPORTED, "layer '", s.layer->name, "': ", s.spec(),
                 " does not run on the stream-ordered (NCCL) path yet (error feedback and round schemes); use "
                 "the MPI transport");
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
  if (!send_dev && !recv_dev) {
    bind_feedback(plan, false);
    return run_host(plan, send, recv, in_elems, out_elems);
  }

  // Device data: encode and decode on the GPU and stage only the compressed
  // payloads through pinned host memory, when every codec has a CUDA twin.
  ws_.pinned = true;
  // Round schemes join when theirs run on the device too (powersgd, with
  // cuBLAS); run_rounds prepares each of their exchanges itself.
  const bool rounds = has_round_layers(plan);
  if (send_dev && recv_dev && plan.dtype == GW_FLOAT32 && plan.algorithm != Algorithm::kPlain && !has_peer_rule(plan) &&
      (!rounds || round_layers_run_on_device(plan))) {
    if (!ws_.device_ops) ws_.device_ops = make_device_ops();
    std::vector<const Compressor*> codecs;
    for (const Segment& s : plan.segments)
      if (!s.codec->round_codec()) codecs.push_back(s.codec.get());
    const size_t most = rounds ? 0 : max_message_payload(plan, size());
    if (ws_.device_ops && ws_.device_ops->prepare(codecs, stream, most, most * static_cast<size_t>(size()))) {
      bind_feedback(plan, true);  // error-feedback state stays in GPU memory, updated on `stream`
      return execute(plan, static_cast<const float*>(send), static_cast<float*>(recv), *ws_.device_ops);
    }
  }
  bind_feedback(plan, false);
  // Otherwise (fp16/bf16 data, a codec without a GPU twin, a peer rule, mixed pointers):
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

}  // namespace gw
