// The gossip engine (include/gradwire/gossip.h): one per gossip group and
// rank. Gossip is not a collective, so it does not go through the
// Communicator and its transports' batches: a communication thread owns
// every point-to-point message of the group (on a duplicate of the user's
// communicator), serving this rank's published copy while the rank computes,
// and hands replies and deltas to the caller's thread under one mutex. The
// caller's thread never blocks in MPI; it only waits, with a deadline, for
// the thread.
//
// Split in two files by thread: gossip_engine.cpp (the caller's side: publish,
// interactions, close) and gossip_progress.cpp (the communication thread).
#pragma once

#include "gradwire/gw_config.h"
#if GW_HAVE_MPI

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gradwire/gossip.h"
#include "src/gossip/gossip_codec.h"
#include "src/gossip/gossip_config.h"
#include "src/gossip/gossip_message.h"

namespace gw {

class GossipEngine {
 public:
  // Collective over comm: checks MPI_THREAD_MULTIPLE, agrees on count and
  // codec (GW_ERR_MISMATCH naming the ranks), starts the thread.
  GossipEngine(MPI_Comm comm, size_t count, const GossipConfig& config);
  ~GossipEngine();  // closes (without a model) if close() was not called
  GossipEngine(const GossipEngine&) = delete;
  GossipEngine& operator=(const GossipEngine&) = delete;

  void publish(float* model);
  void start(float* model);
  bool test();
  int finish(float* model);  // the partner, or -1
  void close(float* model);
  gw_gossip_stats stats();
  size_t count() const { return count_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Snapshot {
    std::vector<float> values;
    uint64_t version = 0;
    Clock::time_point published;
  };
  // kNobody: started with no partner to ask (finish returns -1 at once).
  // kFinishing: finish() holds the partner's copy and computes the delta
  // (outside the lock) until it is queued.
  enum class Ask { kNone, kNobody, kAsked, kAnswered, kFinishing, kAbandoned };
  struct Pending {
    Ask state = Ask::kNone;
    uint64_t seq = 0;
    int partner = -1;
    bool got_reply = false;      // some reply of the partner's came in this exchange (re-asks included)
    bool gave_way = false;       // the partner answered busy: this exchange is over, whoever asks now
    Clock::time_point started;
    std::vector<uint8_t> reply;  // the whole message, validated
  };
  // A message for the thread to send: header plus a payload it keeps alive.
  struct Outgoing {
    int peer;
    GossipHeader header;
    std::shared_ptr<const void> owner;
    const void* payload = nullptr;
  };
  enum class Closing { kOpen, kRequested, kClosingSent, kFinalSent, kDone };

  // caller's side (gossip_engine.cpp)
  void check_open(const char* what);
  void fold_deltas(float* model);           // under no lock
  void publish_snapshot(const float* model);
  int choose_partner();                     // under mu_
  void ask(bool exact);                     // under mu_: request pending_.partner's copy
  bool wait_for_reply(std::unique_lock<std::mutex>& lk);  // false: timed out
  const float* partner_copy(const GossipHeader& h, const std::vector<uint8_t>& reply, const float* model);
  void enqueue(Outgoing out);               // under mu_
  std::string close_laggards();             // under mu_: who kept close() waiting
  void stop_thread();

  // the communication thread (gossip_progress.cpp)
  void progress_loop();
  bool progress_once();
  bool receive_one();
  void handle(int source, std::vector<uint8_t>& msg);
  void serve(int source, uint64_t seq, const float* hints);
  bool yields_to_own_exchange(int source) const;  // under mu_
  void take_delta(int source, const GossipHeader& h, const uint8_t* payload);
  float* writable_published_copy();  // under mu_
  bool advance_close();
  void post(Outgoing& out);
  bool reap_sends();
  void reject(int source, const std::string& why);

  // fixed at creation
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  size_t count_ = 0;
  GossipConfig config_;
  uint64_t fingerprint_ = 0;
  size_t fp32_bytes_ = 0;
  GossipSizes sizes_;
  std::unique_ptr<GossipCodec> codec_;  // codec=lattice: the quantized exchange

  std::mutex mu_;
  std::condition_variable answered_;  // the caller waits on it: replies, close progress
  std::condition_variable work_;      // the thread sleeps on it between polls
  // under mu_
  std::shared_ptr<Snapshot> snapshot_, spare_;
  Pending pending_;
  std::deque<Outgoing> outbox_;
  std::vector<float> incoming_;   // sum of the deltas not yet folded
  bool incoming_any_ = false;
  std::vector<Clock::time_point> skip_until_;
  std::vector<char> peer_closing_;  // a closing notice came from this peer
  Closing closing_ = Closing::kOpen;
  bool stop_ = false;               // the thread must exit now (close timed out, destroy)
  std::string failure_;             // the thread hit an MPI error: every later call reports it
  gw_gossip_stats stats_{};
  double staleness_sum_ = 0, wait_sum_ = 0;
  uint64_t interaction_index_ = 0, next_seq_ = 1, publishes_ = 0;
  std::vector<uint64_t> final_from_;  // the count a peer's final notice announced (UINT64_MAX: none yet)
  std::vector<uint64_t> received_;    // messages received from each peer

  // the thread's own (no lock)
  struct InFlight {
    MPI_Request request;
    std::unique_ptr<GossipHeader> header;
    std::shared_ptr<const void> owner;
  };
  std::vector<InFlight> in_flight_;
  std::vector<uint64_t> sent_;  // messages posted to each peer
  std::vector<uint8_t> discard_;

  std::vector<float> thread_scratch_, thread_delta_;

  // the caller's own
  // codec groups: the spacings to ask each peer for, learned from its last
  // copy (empty: ask for fp32). Per peer: another peer's copy is at another
  // distance from this model.
  std::vector<std::vector<float>> hints_;
  std::vector<float> caller_scratch_, decoded_;

  std::thread thread_;
  bool closed_ = false;  // close() returned (caller's side)
};

}  // namespace gw

#endif  // GW_HAVE_MPI
