// The communication thread of a gossip group: the only code that calls MPI
// on the group's communicator after creation. Each turn it posts what the
// caller queued, receives (and validates) every message that has arrived,
// serves requests with the current published copy, retires completed sends
// and drives close. It sleeps between turns when idle (backing off to 1 ms),
// so a rank that computes still answers its peers within about a millisecond.
//
// Close without collectives, so that a peer that never closes is named: a
// rank sends "closing" to every peer (it starts nothing after), keeps serving
// until every peer's closing notice has come, then sends "final" carrying how
// many messages it sent that peer before, and receives until it has that many
// from each peer and its own sends have completed. Every message of the group
// travels on one tag and is probed with MPI_ANY_SOURCE, so MPI's
// non-overtaking order holds across kinds: a peer's requests and deltas arrive
// before its closing notice, and nothing arrives after its final one.
#include "src/gossip/gossip_engine.h"

#if GW_HAVE_MPI

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/common/rng.h"

namespace gw {
namespace {

constexpr int kGossipTag = 0x6777;
constexpr int kMaxReceivesPerTurn = 64;

}  // namespace

void GossipEngine::progress_loop() {
  auto backoff = std::chrono::microseconds(20);
  const auto kMaxBackoff = std::chrono::microseconds(1000);
  try {
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_ || closing_ == Closing::kDone) return;
      }
      if (progress_once()) {
        backoff = std::chrono::microseconds(20);
        continue;
      }
      std::unique_lock<std::mutex> lk(mu_);
      work_.wait_for(lk, backoff, [&] { return stop_ || !outbox_.empty() || closing_ == Closing::kRequested; });
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(mu_);
    failure_ = e.what();
    GW_LOG(WARN, "gossip thread stopped: ", failure_);
    answered_.notify_all();
  }
}

bool GossipEngine::progress_once() {
  bool did = false;
  std::deque<Outgoing> out;
  {
    std::lock_guard<std::mutex> lk(mu_);
    out.swap(outbox_);
  }
  for (Outgoing& o : out) post(o);
  did |= !out.empty();
  for (int i = 0; i < kMaxReceivesPerTurn && receive_one(); ++i) did = true;
  did |= reap_sends();
  did |= advance_close();
  return did;
}

void GossipEngine::post(Outgoing& o) {
  auto header = std::make_unique<GossipHeader>(o.header);
  int lengths[2] = {static_cast<int>(sizeof(GossipHeader)), static_cast<int>(header->payload_bytes)};
  MPI_Aint where[2] = {0, 0};
  MPI_Get_address(header.get(), &where[0]);
  if (o.payload) MPI_Get_address(o.payload, &where[1]);
  // Header and payload in one message without a copy: an MPI datatype of the
  // two blocks at their addresses.
  MPI_Datatype type;
  MPI_Type_create_hindexed(o.payload && lengths[1] > 0 ? 2 : 1, lengths, where, MPI_BYTE, &type);
  MPI_Type_commit(&type);
  MPI_Request request;
  int rc = MPI_Isend(MPI_BOTTOM, 1, type, o.peer, kGossipTag, comm_, &request);
  MPI_Type_free(&type);
  std::lock_guard<std::mutex> lk(mu_);
  if (rc != MPI_SUCCESS) {
    skip_until_[o.peer] = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(config_.retry_s));
    GW_LOG(WARN, "gossip: sending a ", gossip_kind_name(static_cast<GossipKind>(o.header.kind)), " to rank ", o.peer,
           " failed (MPI error ", rc, "); rank ", o.peer, " is left out for ", config_.retry_s, " s");
    return;
  }
  ++sent_[o.peer];
  stats_.bytes_sent += sizeof(GossipHeader) + header->payload_bytes;
  in_flight_.push_back(InFlight{request, std::move(header), std::move(o.owner)});
}

bool GossipEngine::reap_sends() {
  bool did = false;
  for (size_t i = 0; i < in_flight_.size();) {
    int flag = 0;
    int rc = MPI_Test(&in_flight_[i].request, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      // A send that failed after it was posted: its buffers are kept (leaked)
      // rather than freed under a request MPI may still hold.
      GW_LOG(WARN, "gossip: a send failed while in flight (MPI error ", rc, ")");
      new InFlight(std::move(in_flight_[i]));
      flag = 1;
    }
    if (flag) {
      in_flight_[i] = std::move(in_flight_.back());
      in_flight_.pop_back();
      did = true;
    } else {
      ++i;
    }
  }
  return did;
}

bool GossipEngine::receive_one() {
  int flag = 0;
  MPI_Message message;
  MPI_Status status;
  int rc = MPI_Improbe(MPI_ANY_SOURCE, kGossipTag, comm_, &flag, &message, &status);
  if (rc != MPI_SUCCESS) fail(GW_ERR_SYSTEM, "MPI_Improbe on the gossip communicator failed (MPI error ", rc, ")");
  if (!flag) return false;
  const int source = status.MPI_SOURCE;
  int bytes = 0;
  MPI_Get_count(&status, MPI_BYTE, &bytes);
  const size_t largest = sizeof(GossipHeader) + std::max({sizes_.fp32, sizes_.codes, sizes_.hints});
  if (bytes < 0 || static_cast<size_t>(bytes) > largest) {
    // Received into nothing (MPI reports the truncation; the message is
    // consumed), so an oversized message costs no memory.
    MPI_Mrecv(discard_.data(), 0, MPI_BYTE, &message, MPI_STATUS_IGNORE);
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++received_[source];
    }
    reject(source, concat_parts("a ", bytes, "-byte message, above the largest a gossip message can be (", largest,
                                ")"));
    return true;
  }
  std::vector<uint8_t> msg(static_cast<size_t>(bytes));
  rc = MPI_Mrecv(msg.data(), bytes, MPI_BYTE, &message, MPI_STATUS_IGNORE);
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++received_[source];
    stats_.bytes_received += static_cast<uint64_t>(bytes);
  }
  if (rc != MPI_SUCCESS) {
    reject(source, concat_parts("MPI_Mrecv failed (MPI error ", rc, ")"));
    return true;
  }
  handle(source, msg);
  return true;
}

void GossipEngine::reject(int source, const std::string& why) {
  std::lock_guard<std::mutex> lk(mu_);
  ++stats_.rejected;
  GW_LOG(WARN, "gossip: dropped a message from rank ", source, ": ", why);
}

void GossipEngine::handle(int source, std::vector<uint8_t>& msg) {
  std::string why = check_gossip_message(msg.data(), msg.size(), source, size_, count_, fingerprint_, sizes_);
  if (!why.empty()) return reject(source, why);
  GossipHeader h;
  std::memcpy(&h, msg.data(), sizeof h);
  switch (static_cast<GossipKind>(h.kind)) {
    case GossipKind::kRequest: {
      const float* hints = h.payload_bytes ? reinterpret_cast<const float*>(msg.data() + sizeof h) : nullptr;
      if (hints && !GossipCodec::valid_hints(hints, codec_->units()))
        return reject(source, "a request for spacings that are not finite and > 0");
      return serve(source, h.seq, hints);
    }
    case GossipKind::kReply:
    case GossipKind::kBusy: {
      std::lock_guard<std::mutex> lk(mu_);
      if (pending_.state == Ask::kAsked && pending_.seq == h.seq && pending_.partner == source) {
        std::swap(pending_.reply, msg);
        pending_.state = Ask::kAnswered;
        if (static_cast<GossipKind>(h.kind) == GossipKind::kReply) pending_.got_reply = true;
        else pending_.gave_way = true;
        answered_.notify_all();
      } else {
        ++stats_.late_replies;
      }
      return;
    }
    case GossipKind::kDelta:
      return take_delta(source, h, msg.data() + sizeof h);
    case GossipKind::kClosing: {
      std::lock_guard<std::mutex> lk(mu_);
      peer_closing_[source] = 1;
      return;
    }
    case GossipKind::kFinal: {
      std::lock_guard<std::mutex> lk(mu_);
      final_from_[source] = h.seq;
      return;
    }
  }
}

void GossipEngine::take_delta(int source, const GossipHeader& h, const uint8_t* payload) {
  const float* d = reinterpret_cast<const float*>(payload);
  if (h.codec_bits) {
    thread_delta_.resize(count_);
    if (!codec_->decode_delta(payload, thread_delta_.data(), thread_scratch_))
      return reject(source, "a delta whose lattice codes do not decode against zero");
    d = thread_delta_.data();
  }
  for (size_t i = 0; i < count_; ++i)
    if (!std::isfinite(d[i])) return reject(source, concat_parts("a delta with NaN/Inf at index ", i));
  std::lock_guard<std::mutex> lk(mu_);
  float* published = writable_published_copy();
  // One pass: the delta goes into what the next fold adds and into the published copy.
  if (published) {
    for (size_t i = 0; i < count_; ++i) incoming_[i] += d[i], published[i] += d[i];
  } else {
    for (size_t i = 0; i < count_; ++i) incoming_[i] += d[i];
  }
  incoming_any_ = true;
  ++stats_.deltas_applied;
}

// The published copy takes every delta as it arrives, so that peers reading
// it before this rank's next publish see the model this rank will hold.
// Otherwise several partners' deltas, each computed against one stale copy,
// add up to more than the gap: a slow rank, publishing rarely, would
// overshoot. A copy a reply in flight still holds is never written: the sum
// goes into a fresh copy (copy on write). Null before the first publish.
float* GossipEngine::writable_published_copy() {
  if (!snapshot_) return nullptr;
  if (snapshot_.use_count() > 1) {
    std::shared_ptr<Snapshot> fresh;
    if (spare_ && spare_.use_count() == 1) fresh = std::move(spare_);
    else fresh = std::make_shared<Snapshot>();
    fresh->values = snapshot_->values;
    fresh->version = snapshot_->version;
    fresh->published = snapshot_->published;
    spare_ = std::move(snapshot_);
    snapshot_ = std::move(fresh);
  }
  return snapshot_->values.data();
}

// Crossing exchanges: this rank is exchanging with `source` while `source`
// asks for this rank's copy. If both went ahead, each would average with the
// other's copy from before the exchange, and the two models would swap
// instead of meeting halfway; so exactly one goes ahead and the other is
// answered "busy". MPI keeps each pair's messages in order, which tells the
// two cases apart. A reply of source's came in before its request: source
// served this rank before it asked, sees no crossing, and is answered busy.
// No reply yet: both asked before either served, both see the crossing, and
// the lower rank's exchange goes ahead.
bool GossipEngine::yields_to_own_exchange(int source) const {
  // An exchange the partner answered busy is over (it only waits for the
  // caller to see that): yielding to it would make both sides give way.
  if (pending_.partner != source || pending_.gave_way) return false;
  switch (pending_.state) {
    case Ask::kAnswered:
    case Ask::kFinishing: return true;
    case Ask::kAsked: return pending_.got_reply || rank_ < source;
    default: return false;
  }
}

void GossipEngine::serve(int source, uint64_t seq, const float* hints) {
  Outgoing out{source, make_gossip_header(GossipKind::kReply, rank_, count_, fingerprint_, seq), nullptr, nullptr};
  // A delta the caller queued for `source` before this copy was published
  // must reach it first (the copy already holds that delta's other half).
  std::deque<Outgoing> queued;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closing_ == Closing::kFinalSent || closing_ == Closing::kDone) {
      ++stats_.rejected;
      GW_LOG(WARN, "gossip: rank ", source, " asked for a model after its closing notice; dropped");
      return;
    }
    queued.swap(outbox_);
    if (yields_to_own_exchange(source)) out.header.kind = static_cast<uint16_t>(GossipKind::kBusy);
    else if (snapshot_) {
      out.header.version_published = snapshot_->version;
      out.header.age_s = std::max(0.0, std::chrono::duration<double>(Clock::now() - snapshot_->published).count());
      out.payload = snapshot_->values.data();
      out.owner = snapshot_;
      ++stats_.served;  // an empty reply (nothing published yet) serves nothing
    }
  }
  for (Outgoing& o : queued) post(o);
  size_t bytes = out.payload ? fp32_bytes_ : 0;
  if (out.payload && hints) {
    // The copy as lattice codes at the spacings the asker wants (the snapshot
    // is immutable: encoded outside the lock).
    auto codes = std::make_shared<std::vector<uint8_t>>(sizes_.codes);
    const uint64_t key = rng_derive_key(config_.seed, seq, out.header.version_published,
                                        static_cast<uint64_t>(rank_), static_cast<uint64_t>(source));
    codec_->encode_copy(static_cast<const float*>(out.payload), hints, key, codes->data(), thread_scratch_);
    out.header.codec_bits = static_cast<uint32_t>(sizes_.bits);
    out.payload = codes->data();
    out.owner = codes;
    bytes = sizes_.codes;
  }
  seal_gossip_header(out.header, out.payload, bytes);
  post(out);
}

bool GossipEngine::advance_close() {
  GossipKind notice;
  {
    std::lock_guard<std::mutex> lk(mu_);
    switch (closing_) {
      case Closing::kRequested:
        notice = GossipKind::kClosing;
        closing_ = Closing::kClosingSent;
        break;
      case Closing::kClosingSent: {
        for (int p = 0; p < size_; ++p)
          if (p != rank_ && !peer_closing_[p]) return false;
        notice = GossipKind::kFinal;
        closing_ = Closing::kFinalSent;
        break;
      }
      case Closing::kFinalSent: {
        for (int p = 0; p < size_; ++p)
          if (p != rank_ && (final_from_[p] == UINT64_MAX || received_[p] < final_from_[p] + 1)) return false;
        if (!in_flight_.empty()) return false;
        closing_ = Closing::kDone;
        answered_.notify_all();
        return true;
      }
      default:
        return false;
    }
  }
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    // final: how many messages this rank sent p before it.
    uint64_t seq = notice == GossipKind::kFinal ? sent_[p] : 0;
    Outgoing out{p, make_gossip_header(notice, rank_, count_, fingerprint_, seq), nullptr, nullptr};
    seal_gossip_header(out.header, nullptr, 0);
    post(out);
  }
  return true;
}

}  // namespace gw

#endif  // GW_HAVE_MPI
