// The caller's side of a gossip group: creation, publish, interactions and
// close. Everything shared with the communication thread is under mu_; the
// model is touched only here, inside the caller's call.
#include "src/gossip/gossip_engine.h"

#if GW_HAVE_MPI

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/common/log.h"
#include "src/common/rng.h"

namespace gw {
namespace {

constexpr uint64_t kNoFinal = UINT64_MAX;
constexpr uint64_t kScheduleStream = 0x676f73736970ull;  // "gossip": the partner schedule's key stream
constexpr uint64_t kDeltaStream = 0x676f737369704400ull;  // the lattice rounding of deltas

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::chrono::steady_clock::duration to_duration(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// What every rank must agree on before models mix: format version, count, codec.
uint64_t group_fingerprint(size_t count, const GossipConfig& c) {
  uint64_t h = fnv1a64(std::string("gossip"));
  h = hash_value(static_cast<uint64_t>(kGossipVersion), h);
  h = hash_value(static_cast<uint64_t>(count), h);
  return fnv1a64(c.codec, h);
}

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail(GW_ERR_SYSTEM, what, " failed: ", std::string(text, static_cast<size_t>(std::max(len, 0))));
}

}  // namespace

GossipEngine::GossipEngine(MPI_Comm comm, size_t count, const GossipConfig& config)
    : count_(count), config_(config) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  GW_REQUIRE(initialized, GW_ERR_INVALID_USAGE, "MPI is not initialized");
  int provided = MPI_THREAD_SINGLE;
  MPI_Query_thread(&provided);
  GW_REQUIRE(provided == MPI_THREAD_MULTIPLE, GW_ERR_UNSUPPORTED,
             "gossip needs MPI initialized with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...): its communication "
             "thread calls MPI while the caller's thread computes (this process has thread level ", provided, ")");
  GW_REQUIRE(count > 0, GW_ERR_INVALID_ARGUMENT, "count is 0");
  GW_REQUIRE(count <= (static_cast<size_t>(INT_MAX) - sizeof(GossipHeader)) / sizeof(float),
             GW_ERR_INVALID_ARGUMENT, "count ", count, " is above the largest model one MPI message carries (",
             (static_cast<size_t>(INT_MAX) - sizeof(GossipHeader)) / sizeof(float), " values)");
  fp32_bytes_ = count * sizeof(float);
  sizes_.fp32 = fp32_bytes_;
  if (config.lattice_bits) {
    codec_ = std::make_unique<GossipCodec>(count, config.lattice_bits);
    sizes_.bits = config.lattice_bits;
    sizes_.codes = codec_->codes_bytes();
    sizes_.hints = codec_->hint_bytes();
    GW_REQUIRE(sizes_.codes <= static_cast<size_t>(INT_MAX) - sizeof(GossipHeader), GW_ERR_INVALID_ARGUMENT,
               "count ", count, " is above the largest model one MPI message carries");
  }
  fingerprint_ = group_fingerprint(count, config);
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);

  // Agreement: every rank sees every rank's (count, fingerprint) and fails the
  // same way, naming the ranks that differ from rank 0.
  uint64_t mine[2] = {count, fingerprint_};
  std::vector<uint64_t> all(2 * static_cast<size_t>(size_));
  int rc = MPI_Allgather(mine, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, comm_);
  if (rc != MPI_SUCCESS) {
    MPI_Comm_free(&comm_);
    check_mpi(rc, "MPI_Allgather (gossip agreement)");
  }
  std::string differ;
  for (int r = 1; r < size_; ++r)
    if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
      differ += concat_parts(differ.empty() ? "" : ", ", "rank ", r, " (count ", all[2 * r], ")");
  if (!differ.empty()) {
    MPI_Comm_free(&comm_);
    fail(GW_ERR_MISMATCH, "gossip group: ranks disagree on count or codec: rank 0 has count ", all[0],
         ", differing: ", differ, " (this rank: count ", count, ", codec ", config.codec, ")");
  }

  incoming_.assign(count, 0.0f);
  skip_until_.assign(size_, Clock::time_point());
  hints_.assign(size_, {});
  peer_closing_.assign(size_, 0);
  final_from_.assign(size_, kNoFinal);
  received_.assign(size_, 0);
  sent_.assign(size_, 0);
  set_log_rank(rank_);
  GW_LOG(INFO, "gossip group: ", size_, " ranks, ", count, " values, ", config_.describe());
  thread_ = std::thread([this] { progress_loop(); });
}

GossipEngine::~GossipEngine() {
  if (!closed_) {
    try {
      close(nullptr);
    } catch (const Error& e) {
      GW_LOG(WARN, "gossip destroy: ", e.what());
    }
  }
  stop_thread();
}

void GossipEngine::stop_thread() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GossipEngine::check_open(const char* what) {
  GW_REQUIRE(!closed_ && closing_ == Closing::kOpen, GW_ERR_INVALID_USAGE, what,
             ": the gossip group is closed (only stats and destroy remain)");
  GW_REQUIRE(failure_.empty(), GW_ERR_SYSTEM, what, ": the gossip thread failed earlier: ", failure_);
}

void GossipEngine::fold_deltas(float* model) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!incoming_any_) return;
  for (size_t i = 0; i < count_; ++i) {
    model[i] += incoming_[i];
    incoming_[i] = 0.0f;
  }
  incoming_any_ = false;
}

void GossipEngine::publish_snapshot(const float* model) {
  std::shared_ptr<Snapshot> fresh;
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Reuse the spare copy once no reply in flight holds it any more.
    if (spare_ && spare_.use_count() == 1) fresh = std::move(spare_);
  }
  if (!fresh) fresh = std::make_shared<Snapshot>();
  fresh->values.assign(model, model + count_);
  fresh->published = Clock::now();
  std::lock_guard<std::mutex> lk(mu_);
  fresh->version = ++publishes_;
  spare_ = std::move(snapshot_);
  snapshot_ = std::move(fresh);
  stats_.publishes = publishes_;
}

void GossipEngine::publish(float* model) {
  check_open("gw_gossip_publish");
  fold_deltas(model);
  publish_snapshot(model);
}

int GossipEngine::choose_partner() {
  auto now = Clock::now();
  std::vector<int> eligible;
  for (int p = 0; p < size_; ++p)
    if (p != rank_ && !peer_closing_[p] && skip_until_[p] <= now) eligible.push_back(p);
  uint64_t key = rng_derive_key(config_.seed, interaction_index_++, kScheduleStream, static_cast<uint64_t>(rank_), 0);
  if (eligible.empty()) return -1;
  return eligible[rng_u32(key, 0) % eligible.size()];
}

void GossipEngine::enqueue(Outgoing out) {
  outbox_.push_back(std::move(out));
  work_.notify_one();
}

void GossipEngine::start(float* model) {
  check_open("gw_gossip_interact_start");
  {
    std::lock_guard<std::mutex> lk(mu_);
    GW_REQUIRE(pending_.state != Ask::kAsked && pending_.state != Ask::kAnswered, GW_ERR_INVALID_USAGE,
               "gw_gossip_interact_start: an interaction is already under way (finish it first)");
  }
  publish(model);
  std::lock_guard<std::mutex> lk(mu_);
  pending_ = Pending();
  pending_.partner = choose_partner();
  pending_.started = Clock::now();
  if (pending_.partner < 0) {
    pending_.state = Ask::kNobody;
    return;
  }
  ask(/*exact=*/hints_[pending_.partner].empty());
}

void GossipEngine::ask(bool exact) {
  pending_.state = Ask::kAsked;
  pending_.seq = next_seq_++;
  pending_.started = Clock::now();
  Outgoing out{pending_.partner, make_gossip_header(GossipKind::kRequest, rank_, count_, fingerprint_, pending_.seq),
               nullptr, nullptr};
  if (codec_ && !exact) {
    auto hints = std::make_shared<std::vector<float>>(hints_[pending_.partner]);
    out.payload = hints->data();
    out.owner = hints;
  }
  seal_gossip_header(out.header, out.payload, out.payload ? sizes_.hints : 0);
  enqueue(std::move(out));
}

bool GossipEngine::wait_for_reply(std::unique_lock<std::mutex>& lk) {
  auto deadline = pending_.started + to_duration(config_.timeout_s);
  answered_.wait_until(lk, deadline, [&] { return pending_.state == Ask::kAnswered || !failure_.empty(); });
  GW_REQUIRE(failure_.empty(), GW_ERR_SYSTEM, "gw_gossip_interact_finish: the gossip thread failed: ", failure_);
  return pending_.state == Ask::kAnswered;
}

// The partner's copy P as fp32 values: the reply's own values, or its lattice
// codes decoded against this rank's model (nullptr when they do not decode).
const float* GossipEngine::partner_copy(const GossipHeader& h, const std::vector<uint8_t>& reply, const float* model) {
  const uint8_t* payload = reply.data() + sizeof(GossipHeader);
  if (!h.codec_bits) return reinterpret_cast<const float*>(payload);
  decoded_.resize(count_);
  if (!codec_->decode_copy(payload, model, decoded_.data(), caller_scratch_)) return nullptr;
  return decoded_.data();
}

bool GossipEngine::test() {
  GW_REQUIRE(!closed_, GW_ERR_INVALID_USAGE, "gw_gossip_interact_test: the gossip group is closed");
  std::lock_guard<std::mutex> lk(mu_);
  return pending_.state != Ask::kAsked || !failure_.empty();
}

int GossipEngine::finish(float* model) {
  check_open("gw_gossip_interact_finish");
  std::unique_lock<std::mutex> lk(mu_);
  GW_REQUIRE(pending_.state != Ask::kNone && pending_.state != Ask::kAbandoned, GW_ERR_INVALID_USAGE,
             "gw_gossip_interact_finish without gw_gossip_interact_start");
  if (pending_.state == Ask::kNobody) {
    pending_ = Pending();
    return -1;
  }
  const int partner = pending_.partner;
  const auto began = pending_.started;
  const float* peer = nullptr;
  std::vector<uint8_t> reply;
  GossipHeader h;
  for (int attempt = 0;; ++attempt) {
    if (!wait_for_reply(lk)) {
      // Skipped, not waited for: the reply, if it ever comes, is dropped as late.
      skip_until_[partner] = Clock::now() + to_duration(config_.retry_s);
      ++stats_.skipped;
      GW_LOG(WARN, "gossip: rank ", partner, " did not send its model within ", config_.timeout_s,
             " s; interaction skipped (", stats_.skipped, " so far); rank ", partner, " is left out for ",
             config_.retry_s, " s");
      pending_ = Pending();
      return -1;
    }
    reply = std::move(pending_.reply);
    std::memcpy(&h, reply.data(), sizeof h);
    if (static_cast<GossipKind>(h.kind) == GossipKind::kBusy) {
      // The partner is exchanging with this rank right now: its exchange
      // averages the two models (see serve()), so this one stops here.
      ++stats_.crossed;
      pending_ = Pending();
      return -1;
    }
    if (h.version_published == 0) {  // the partner had published nothing yet
      pending_ = Pending();
      return -1;
    }
    // Until the delta is queued, a request from this partner is answered busy.
    pending_.state = Ask::kFinishing;
    lk.unlock();
    fold_deltas(model);
    peer = partner_copy(h, reply, model);
    lk.lock();
    if (peer || !h.codec_bits || attempt >= 2) break;
    // Codes farther from this model than their spacing covers: ask again at a
    // wider spacing (where the codes have the bits for it), then for fp32.
    ++stats_.decode_fallbacks;
    const int widen = codec_->reask_factor();
    const bool exact = attempt > 0 || widen < 2;
    GW_LOG(INFO, "gossip: rank ", partner, "'s lattice codes did not decode against this model; asking for ",
           exact ? std::string("fp32") : concat_parts("codes at ", widen, "x the spacing"));
    for (float& s : hints_[partner]) s = std::min(s * static_cast<float>(widen), FLT_MAX);
    ask(exact);
  }
  lk.unlock();
  if (!peer) {  // codes again where fp32 was asked for: a broken or hostile peer
    lk.lock();
    ++stats_.rejected;
    pending_ = Pending();
    lk.unlock();
    GW_LOG(WARN, "gossip: rank ", partner, " answered a request for fp32 with codes that do not decode; dropped");
    return -1;
  }
  const double waited = seconds_between(began, Clock::now());

  // d = (x - P) / 2 leaves this rank; both sides apply the same d (decoded,
  // when it travels as codes), so the sum over ranks is unchanged. The
  // partner's values are checked in the same pass, before the model changes.
  // Left uninitialized (every value is written below); kept alive by the send.
  std::shared_ptr<float> delta(new float[count_], std::default_delete<float[]>());
  float* d = delta.get();
  for (size_t i = 0; i < count_; ++i) {
    if (!std::isfinite(peer[i])) {
      lk.lock();
      ++stats_.rejected;
      pending_ = Pending();
      lk.unlock();
      GW_LOG(WARN, "gossip: rank ", partner, "'s model holds NaN/Inf at index ", i, "; interaction dropped");
      return -1;
    }
    d[i] = 0.5f * (model[i] - peer[i]);
  }
  if (codec_) {
    hints_[partner].resize(codec_->units());
    codec_->next_hints(model, peer, hints_[partner].data());
  }
  Outgoing out{partner, make_gossip_header(GossipKind::kDelta, rank_, count_, fingerprint_, h.seq), delta, d};
  if (codec_) {
    auto codes = std::make_shared<std::vector<uint8_t>>(sizes_.codes);
    uint64_t key = rng_derive_key(config_.seed, h.seq, kDeltaStream, static_cast<uint64_t>(rank_), 0);
    codec_->encode_delta(d, key, codes->data(), d, caller_scratch_);  // d becomes what the partner will add
    out.header.codec_bits = static_cast<uint32_t>(sizes_.bits);
    out.payload = codes->data();
    out.owner = codes;
  }
  for (size_t i = 0; i < count_; ++i) model[i] -= d[i];
  seal_gossip_header(out.header, out.payload, codec_ ? sizes_.codes : fp32_bytes_);
  publish_snapshot(model);
  lk.lock();
  enqueue(std::move(out));
  pending_ = Pending();
  ++stats_.interactions;
  staleness_sum_ += h.age_s;
  stats_.staleness_max_s = std::max(stats_.staleness_max_s, h.age_s);
  wait_sum_ += waited;
  stats_.wait_max_s = std::max(stats_.wait_max_s, waited);
  return partner;
}

std::string GossipEngine::close_laggards() {
  std::string who;
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    const char* why = nullptr;
    if (!peer_closing_[p]) why = "has not called close (still training, stalled or gone)";
    else if (final_from_[p] == kNoFinal) why = "did not finish closing";
    else if (received_[p] < final_from_[p] + 1) why = "messages still in flight";
    if (why) who += concat_parts(who.empty() ? "" : "; ", "rank ", p, " ", why);
  }
  return who.empty() ? std::string("this rank's own sends did not complete") : who;
}

void GossipEngine::close(float* model) {
  GW_REQUIRE(!closed_, GW_ERR_INVALID_USAGE, "gw_gossip_close: the gossip group is already closed");
  closed_ = true;
  std::unique_lock<std::mutex> lk(mu_);
  if (pending_.state == Ask::kAsked) pending_.state = Ask::kAbandoned;  // its reply is dropped as late
  if (closing_ == Closing::kOpen && failure_.empty()) closing_ = Closing::kRequested;
  work_.notify_one();
  auto deadline = Clock::now() + to_duration(config_.close_timeout_s);
  bool done = answered_.wait_until(lk, deadline, [&] { return closing_ == Closing::kDone || !failure_.empty(); });
  if (!done || !failure_.empty()) {
    std::string why = failure_.empty() ? close_laggards() : failure_;
    lk.unlock();
    // The thread stops; the duplicate communicator and every send still in
    // flight are left alone (never freed), so nothing writes into memory
    // anyone gave up.
    stop_thread();
    if (!failure_.empty()) fail(GW_ERR_SYSTEM, "gw_gossip_close: the gossip thread failed: ", why);
    fail(GW_ERR_TIMEOUT, "gw_gossip_close: not every peer closed within ", config_.close_timeout_s, " s: ", why);
  }
  lk.unlock();
  stop_thread();
  bool dropped = incoming_any_;
  if (model) fold_deltas(model);
  else if (dropped)
    GW_LOG(WARN, "gossip close without a model: the last deltas peers sent are dropped (the sum over ranks "
                 "is no longer preserved)");
  MPI_Comm_free(&comm_);
}

gw_gossip_stats GossipEngine::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  gw_gossip_stats s = stats_;
  s.staleness_mean_s = s.interactions ? staleness_sum_ / static_cast<double>(s.interactions) : 0.0;
  s.wait_mean_s = s.interactions ? wait_sum_ / static_cast<double>(s.interactions) : 0.0;
  return s;
}

}  // namespace gw

#endif  // GW_HAVE_MPI
