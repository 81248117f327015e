// The communicator: owns the transport, the configuration, the per-layer
// state and the workspace; turns a call's arguments into a plan and runs it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/algo/collective.h"
#include "src/algo/plan.h"
#include "src/algo/stream_collective.h"
#include "src/config/config.h"
#include "src/comm/device_staging.h"
#include "src/comm/rounds_scratch.h"
#include "src/robust/attack.h"
#include "src/scheme/layer.h"
#include "src/common/error.h"
#include "transports/stream_transport.h"
#include "transports/transport.h"

namespace gw {

constexpr uint64_t kCommMagic = 0x67772d636f6d6d31ull;  // catches freed or foreign handles

struct LayerRef {  // one layer of a (multi-layer) call
  const char* name;
  size_t offset;
  size_t count;
};

class Communicator {
 public:
  Communicator(std::unique_ptr<Transport> transport, Config config);
  // Stream-ordered (NCCL): device buffers only, nothing waits for the device.
  Communicator(std::unique_ptr<StreamTransport> transport, Config config);
  ~Communicator();

  int rank() const { return transport_ ? transport_->rank() : stream_transport_->rank(); }
  int size() const { return transport_ ? transport_->size() : stream_transport_->size(); }
  bool broken() const { return broken_; }
  // Throws when the communicator is broken, or the device side of a
  // stream-ordered one has reported a failure (which breaks it).
  // probe_peers: also look for a peer's abandon notice (host transports).
  void check_state(bool probe_peers = true);
  const Config& config() const { return config_; }

  // Host or device buffers (device ones are staged on `stream`, see device_staging.h).
  void allreduce(const std::vector<LayerRef>& layers, const void* send, void* recv, size_t total,
                 gw_dtype dtype, gw_op op, void* stream);
  void allgather(const char* layer, const void* send, void* recv, size_t count, gw_dtype dtype, void* stream);

  void set_spec(const char* layer, const char* spec);
  void set_shape(const char* layer, const std::vector<int64_t>& dims);
  // The layer's peer rule ("" = the communicator's robust= again); its rule state starts over.
  void set_robust(const char* layer, const char* rule);
  const std::vector<int>& excluded_ranks() const { return excluded_; }
  std::string spec_of(const char* layer);  // canonical spec a call of `count` elements would use
  std::string planned_spec_of(const char* layer);  // lgreco: the planned candidate's; else spec_of

  std::vector<uint8_t> save_state(const char* layer);
  void load_state(const char* layer, const uint8_t* buf, size_t size);

  LayerStats layer_stats(const char* layer) const;
  LayerStats total_stats() const;
  void reset_stats();

  uint64_t magic = kCommMagic;  // zeroed by gw_comm_destroy
  std::atomic<bool> in_use{false};  // a C API call is in progress (one caller at a time)

 private:
  Layer& layer(const std::string& name);
  // The layer's scheme (resolved once per layer), or "none" below min_compress_bytes.
  const std::shared_ptr<const Scheme>& scheme_for(Layer& layer, size_t count, gw_dtype dtype);
  Segment segment_for(const char* name, size_t offset, size_t count, gw_dtype dtype);
  const std::string& configured_spec(const Layer& l) const;  // its override, or the communicator's
  // L-GreCo: gives each lgreco layer of the call its planned candidate,
  // planning first at a plan step (one small allreduce of the errors).
  void plan_adaptive(CallPlan& plan, const void* send);
  // Error feedback (communicator_feedback.cpp): binds each segment to its
  // layer's state before a compressed call; after it, the EF21 aggregate
  // step, and resets (counted, logged) where a call left state unusable.
  // on_device: the vectors where a device-data call's codecs run (GPU memory).
  void bind_feedback(CallPlan& plan, bool on_device);
  // Binds the segment's layer state to its scheme, count and `extra` floats,
  // counting and logging a reset; shared by bind_feedback and run_rounds.
  static LayerState& bind_state(const Segment& s, size_t extra = 0);
  void finish_feedback(const CallPlan& plan, float* out, const CallResult& result, DataOps& ops);
  // shared_only: only the state that follows the shared result (EF21's
  // aggregate, round schemes), which a peer's NaN reaches too.
  void reset_feedback(const CallPlan& plan, const char* why, bool shared_only = false);
  void run(CallPlan& plan, const void* send, void* recv, size_t in_elems, size_t out_elems, void* stream);
  void plan_call(CallPlan& plan, bool device_data) const;  // algorithm and rounds
  void run_host(CallPlan& plan, const void* send, void* recv, size_t in_elems, size_t out_elems);
  void execute(CallPlan& plan, const float* in, float* out, DataOps& ops);
  // Calls holding a round scheme's layers (communicator_rounds.cpp): one
  // exchange per round for all of them, host data.
  CallResult run_rounds(CallPlan& plan, uint64_t seq, const float* in, float* out, DataOps& ops,
                        const std::string& what);
  void run_stream(CallPlan& plan, const void* send, void* recv, void* stream);
  // Names the call in errors; counts it in the layers' statistics and steps.
  std::string describe_call(const CallPlan& plan, uint64_t seq) const;
  template <typename Run>
  void account(CallPlan& plan, Run&& run);
  void note_broken(const Error& e);
  // attack= (tests and benchmarks only, robust/attack.h): the buffer an
  // attacking rank sends instead of `send` (`send` itself on honest ranks),
  // after the omniscient kinds' allgather of every rank's raw input.
  const void* attack_input(const void* send, size_t total, gw_dtype dtype);
  // Adds to excluded_ the ranks a rule removed in a call, or a checkpoint
  // listed (`source` says which, in the WARN line logged once per rank).
  void exclude_for_good(const std::vector<int>& ranks, const std::string& source);

  std::unique_ptr<Transport> transport_;                // host transports (MPI), or
  std::unique_ptr<StreamTransport> stream_transport_;  // stream-ordered ones (NCCL)
  std::unique_ptr<StreamCollective> stream_;
  // The last call's buffers and whether each is device memory.
  const void* last_send_ = nullptr;
  const void* last_recv_ = nullptr;
  bool last_send_dev_ = false, last_recv_dev_ = false;
  Config config_;
  std::shared_ptr<const PeerRule> rule_;  // config robust=: null = the running sum
  std::vector<int> excluded_;             // ranks a rule removed for good (ascending): left out of every rule
  std::unique_ptr<Attack> attack_;        // config attack=: null = honest (always, outside tests and benchmarks)
  std::vector<float> attack_send_, attack_all_;
  uint64_t attack_calls_ = 0;
  std::map<std::string, std::unique_ptr<Layer>> layers_;
  Workspace ws_;
  std::unique_ptr<RoundsScratch> rounds_;  // run_rounds' grow-only buffers and plans
  DeviceStaging staging_;
  uint64_t seq_ = 0;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace gw
