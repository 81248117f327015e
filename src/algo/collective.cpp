#include "src/algo/collective.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include "src/algo/exchange_order.h"
#include "src/algo/exchange_tags.h"
#include "src/common/error.h"
#include "src/common/log.h"
#include "src/common/rng.h"
#include "src/robust/equivocation.h"

namespace gw {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class CollectiveRun {
 public:
  CollectiveRun(Transport& t, Workspace& ws, DataOps& ops, const CallPlan& plan, const Config& cfg, uint64_t seq,
                const float* in, float* out, const std::string& what)
      : t_(t), ws_(ws), ops_(ops), plan_(plan), cfg_(cfg), seq_(seq), in_(in), out_(out), what_(what),
        rank_(t.rank()), n_(t.size()) {
    result_.per_segment.resize(plan.segments.size());
    ex_ = exchange_order(plan);
    for (const Segment& s : plan.segments) variable_ |= !s.traits.fixed_size;
  }

  CallResult run();

 private:
  // Sizes and layout. A message holds, for each piece of its round, the payload
  // of piece_count() values; payload_bytes() is its planned size: exact when
  // every codec is fixed-size, else the capacity (the actual length is in the
  // header, and each piece's in its own payload: Compressor::payload_extent).
  size_t piece_count(const Exchange& e, const Piece& p, int part) const { return gw::piece_count(e, p, part, n_); }
  size_t payload_bytes(const Exchange& e, int part) const;  // part: which SRA part the message holds
  // The lengths of the pieces of a message payload (from rank src), walked by
  // their own extents; GW_ERR_CORRUPT naming src when they do not add up.
  void walk_pieces(const Exchange& e, int part, const uint8_t* payload, size_t bytes, int src,
                   std::vector<size_t>* sizes) const;
  uint64_t rng_key(const Piece& p, size_t first, uint64_t phase) const {
    return piece_key(cfg_.seed, plan_.segments[p.segment], rank_, first, phase);
  }

  void prepare(size_t i);
  void launch(size_t i);
  void complete(size_t i);
  void check_received(size_t i, const Exchange& e);
  // Equivocation detection (crosscheck.h): whether exchange i's hash rows are
  // shared (an allgather exchange of a robust round, 3 ranks or more), and
  // sharing them; then the findings of check_received count, but for the
  // equivocators', whose messages no honest rank uses.
  bool crosschecks(size_t i) const;
  void share_hashes(size_t i);
  void accept_findings();
  void process(size_t i);
  void progress_others(size_t self);
  size_t encode_into(size_t i, int part, uint8_t* payload, uint16_t* flags);
  // The reducer that keeps every peer's vector: decodes each rank's payload of
  // piece p into its own row, then the plan's rule writes out_ (host data only:
  // the communicator stages device buffers for such calls).
  template <typename Take, typename Decode>
  void combine_peers(const Piece& p, const Segment& seg, Take& take, Decode& decode);
  bool is_equivocator(int src) const {
    return std::find(equivocators_.begin(), equivocators_.end(), src) != equivocators_.end();
  }
  bool is_excluded(int src) const {
    return is_equivocator(src) || std::find(plan_.excluded.begin(), plan_.excluded.end(), src) != plan_.excluded.end();
  }
  // The reducer of reference-decoding codecs (lattice): every rank's payload of
  // piece p, its own included, decoded against this rank's own values of the
  // piece and summed in rank order; the units that failed their check go to
  // the result's misses (the caller's scheme shares and re-sends them).
  template <typename Take>
  void decode_near_reference(const Piece& p, const Compressor& codec, Take& take);
  // Adds the bytes of one message (its pieces' payloads of the given sizes, and
  // its header to the round's first layer) `copies` times to the layers' sent
  // or received counts.
  void attribute(const Exchange& e, const std::vector<size_t>& sizes, uint64_t copies, bool sent);
  void note_local(const Error& e) {
    if (!local_error_) local_error_.reset(new Error(e));
  }

  Transport& t_;
  Workspace& ws_;
  DataOps& ops_;
  const CallPlan& plan_;
  const Config& cfg_;
  const uint64_t seq_;
  const float* in_;
  float* out_;
  const std::string& what_;
  const int rank_, n_;
  std::vector<Exchange> ex_;
  size_t launched_ = 0, completed_ = 0;
  bool stop_ = false;
  long abort_sent_in_ = -1;
  bool mismatch_in_exchange0_ = false;  // seen by every rank: no abandon needed
  std::unique_ptr<Error> local_error_, remote_error_;
  std::set<int> nonfinite_ranks_;
  // What check_received found in each sender's message of the exchange at
  // hand, counted by accept_findings (after the hash rows, when shared).
  struct Finding {
    std::unique_ptr<Error> error;  // the message is bad (named)
    std::unique_ptr<Error> abort;  // the sender failed the call (GW_ERR_REMOTE)
    bool nonfinite = false;        // its header flags NaN/Inf input
  };
  std::vector<Finding> findings_;
  std::vector<uint64_t> hashes_;   // payload_hash of each sender's message of the exchange at hand (share_hashes)
  std::vector<int> equivocators_;  // senders caught equivocating in this call, ascending
  bool variable_ = false;  // some codec's payload size varies (lossless stage)
  std::vector<size_t> sizes_;  // piece lengths of the message at hand
  double comm_s_ = 0;
  uint64_t sent_ = 0, received_ = 0;
  CallResult result_;
};

void CollectiveRun::attribute(const Exchange& e, const std::vector<size_t>& sizes, uint64_t copies, bool sent) {
  const std::vector<Piece>& pieces = plan_.rounds[e.round].pieces;
  auto add = [&](uint32_t seg, uint64_t bytes) {
    LayerStats& st = result_.per_segment[seg];
    (sent ? st.bytes_sent : st.bytes_received) += bytes * copies;
  };
  if (!plan_.segments.empty()) add(pieces.empty() ? 0 : pieces[0].segment, sizeof(MessageHeader));
  for (size_t k = 0; k < pieces.size() && k < sizes.size(); ++k) add(pieces[k].segment, sizes[k]);
}

size_t CollectiveRun::payload_bytes(const Exchange& e, int part) const {
  size_t bytes = 0;
  for (const Piece& p : plan_.rounds[e.round].pieces)
    bytes += plan_.segments[p.segment].codec->encoded_bytes(piece_count(e, p, part));
  return bytes;
}

void CollectiveRun::walk_pieces(const Exchange& e, int part, const uint8_t* payload, size_t bytes, int src,
                                std::vector<size_t>* sizes) const {
  sizes->clear();
  size_t off = 0;
  try {
    for (const Piece& p : plan_.rounds[e.round].pieces) {
      const Compressor& codec = *plan_.segments[p.segment].codec;
      const size_t len = codec.payload_extent(payload + off, bytes - off, piece_count(e, p, part));
      sizes->push_back(len);
      off += len;
    }
  } catch (const Error& err) {
    fail(err.status(), "message from rank ", src, " for ", what_, ": ", err.what());
  }
  GW_REQUIRE(off == bytes, GW_ERR_CORRUPT, "message from rank ", src, " for ", what_, " has ", bytes - off,
             " payload bytes after its last piece");
}

// Encodes the pieces of e's round (the given SRA part) back to back, their
// lengths in sizes_; returns the payload length.
size_t CollectiveRun::encode_into(size_t i, int part, uint8_t* payload, uint16_t* flags) {
  const Exchange& e = ex_[i];
  size_t off = 0;
  sizes_.clear();
  for (const Piece& p : plan_.rounds[e.round].pieces) {
    const Segment& seg = plan_.segments[p.segment];
    size_t first = p.begin, count = p.count;
    const float* src = in_;
    uint64_t phase = 0;
    if (e.type != ExType::kAllgather) piece_part(p, part, n_, &first, &count);
    if (e.type == ExType::kGather) {
      src = out_;  // the owner's reduced part
      phase = kPhaseGather;
    }
    auto t0 = Clock::now();
    // Error feedback corrects this rank's own values, not the SRA owner's re-encode.
    const Feedback fb = e.type == ExType::kGather ? Feedback::kNone : seg.feedback();
    float* state = fb == Feedback::kNone ? nullptr : seg.feedback_state + (first - seg.offset);
    const size_t wrote =
        ops_.encode(*seg.codec, src + first, count, payload + off, rng_key(p, first, phase), fb, state);
    result_.per_segment[p.segment].encode_s += seconds_since(t0);
    const size_t planned = seg.codec->encoded_bytes(count);
    if (wrote > planned || (wrote != planned && seg.traits.fixed_size))
      fail(GW_ERR_INTERNAL, seg.spec(), " wrote ", wrote, " bytes for ", count, " values, planned ", planned);
    sizes_.push_back(wrote);
    off += wrote;
    progress_others(i);  // keep earlier rounds moving on the wire
  }
  auto t0 = Clock::now();
  if (ops_.finish_encodes()) *flags |= kFlagNonfinite;
  if (!plan_.rounds[e.round].pieces.empty())  // device encodes complete here
    result_.per_segment[plan_.rounds[e.round].pieces[0].segment].encode_s += seconds_since(t0);
  return off;
}

void CollectiveRun::prepare(size_t i) {
  const Exchange& e = ex_[i];
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  if (!set.batch) set.batch = t_.new_batch();
  set.send.resize(n_);
  set.recv.resize(n_);
  Batch& b = *set.batch;
  b.ops.clear();
  for (int peer = 0; peer < n_; ++peer) {
    if (peer == rank_) continue;
    // From whom we receive which part: scatter -> our part; gather -> the owner's.
    int part = e.type == ExType::kScatter ? rank_ : peer;
    size_t cap = sizeof(MessageHeader) + payload_bytes(e, part);
    P2POp op;
    op.is_send = false;
    op.buf = set.recv[peer].reserve(cap, ws_.pinned);
    op.bytes = cap;
    op.peer = peer;
    op.tag = exchange_tag(i);
    b.ops.push_back(op);
  }
}

void CollectiveRun::launch(size_t i) {
  const Exchange& e = ex_[i];
  prepare(i);
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  const bool abort = local_error_ != nullptr;
  if (abort && abort_sent_in_ < 0) abort_sent_in_ = static_cast<long>(i);
  const gw_status abort_status = abort ? local_error_->status() : GW_SUCCESS;
  // Scatter: one message per peer (that peer's part). Allgather / gather: one
  // message for everyone, which is also decoded locally (so all ranks agree).
  const bool per_peer = e.type == ExType::kScatter;
  for (int dst = 0; dst < n_; ++dst) {
    if (per_peer ? dst == rank_ : dst != 0) continue;
    int part = e.type == ExType::kScatter ? dst : rank_;
    const size_t capacity = abort ? 0 : payload_bytes(e, part);
    uint8_t* msg = set.send[dst].reserve(sizeof(MessageHeader) + capacity, ws_.pinned);
    uint16_t flags = abort ? kFlagAbort : 0;
    size_t payload = 0;  // what the encoders wrote: <= capacity, == for fixed-size codecs
    if (!abort) {
      payload = encode_into(i, part, msg + sizeof(MessageHeader), &flags);
      if ((flags & kFlagNonfinite) && e.type != ExType::kGather) nonfinite_ranks_.insert(rank_);
      attribute(e, sizes_, per_peer ? 1 : static_cast<uint64_t>(n_ - 1), true);
    }
    write_header(msg, plan_.fingerprint, seq_, static_cast<uint32_t>(i), rank_, flags, abort_status, payload,
                 cfg_.checksum);
    for (int peer = 0; peer < n_; ++peer) {
      if (peer == rank_ || (per_peer && peer != dst)) continue;
      P2POp op;
      op.is_send = true;
      op.buf = msg;
      op.bytes = sizeof(MessageHeader) + payload;
      op.peer = peer;
      op.tag = exchange_tag(i);
      set.batch->ops.push_back(op);
      sent_ += op.bytes;
    }
  }
  t_.start(*set.batch);
}

void CollectiveRun::progress_others(size_t self) {
  for (size_t k = completed_; k < launched_; ++k) {
    if (k == self) continue;
    const Exchange& e = ex_[k];
    t_.test(*ws_.sets[e.set_kind()][e.parity()].batch);
  }
}

void CollectiveRun::check_received(size_t i, const Exchange& e) {
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  findings_.clear();
  findings_.resize(static_cast<size_t>(n_));
  for (const P2POp& op : set.batch->ops) {
    if (op.is_send) {
      if (!op.error.empty())
        note_local(Error(GW_ERR_SYSTEM, concat_parts("sending to rank ", op.peer, " failed: ", op.error)));
      continue;
    }
    received_ += op.received;
    Finding& f = findings_[op.peer];
    try {
      if (!op.error.empty()) fail(GW_ERR_SYSTEM, "receiving from rank ", op.peer, " failed: ", op.error);
      int part = e.type == ExType::kScatter ? rank_ : op.peer;
      ReceivedMessage m = validate_message(static_cast<const uint8_t*>(op.buf), op.received, op.peer, rank_,
                                           plan_.fingerprint, seq_, static_cast<uint32_t>(i),
                                           payload_bytes(e, part), cfg_.checksum, what_, op.truncated, variable_);
      if (m.header->flags & kFlagAbort)
        f.abort.reset(new Error(GW_ERR_REMOTE,
                                concat_parts("rank ", op.peer, " failed this call with ",
                                             gw_status_string(static_cast<gw_status>(m.header->abort_status)),
                                             " (see its log); ", what_, " was abandoned on every rank")));
      f.nonfinite = (m.header->flags & kFlagNonfinite) && e.type != ExType::kGather;
      if (!(m.header->flags & kFlagAbort)) {
        walk_pieces(e, part, m.payload, m.header->payload_bytes, op.peer, &sizes_);
        attribute(e, sizes_, 1, false);
      }
    } catch (const Error& err) {
      f.error.reset(new Error(err));
    }
  }
}

void CollectiveRun::accept_findings() {
  for (int src = 0; src < n_; ++src) {
    Finding& f = findings_[src];
    if (is_equivocator(src)) continue;  // nobody uses its messages: what they hold no longer matters
    if (f.error) note_local(*f.error);
    if (f.abort) {
      if (!remote_error_) remote_error_ = std::move(f.abort);
      stop_ = true;
    }
    if (f.nonfinite) nonfinite_ranks_.insert(src);
  }
}

bool CollectiveRun::crosschecks(size_t i) const {
  const Exchange& e = ex_[i];
  if (e.type != ExType::kAllgather || plan_.kind != CallKind::kAllreduce || n_ < 3) return false;
  // Ranks whose plans differ all see it in exchange 0 and stop there, without
  // this exchange (whose existence their plans may not agree on).
  if (i == 0)
    for (const Finding& f : findings_)
      if (f.error && f.error->status() == GW_ERR_MISMATCH) return false;
  for (const Piece& p : plan_.rounds[e.round].pieces)
    if (plan_.segments[p.segment].rule) return true;
  return false;
}

void CollectiveRun::share_hashes(size_t i) {
  const Exchange& e = ex_[i];
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  hashes_.assign(static_cast<size_t>(n_), 0);  // hashed only here: calls without a rule pay nothing
  for (const P2POp& op : set.batch->ops)
    if (!op.is_send) hashes_[op.peer] = payload_hash(op.buf, op.received);
  {  // this rank's own entry: what it sent (a sender's word about itself decides nothing)
    const uint8_t* msg = set.send[0].data();
    MessageHeader h;
    std::memcpy(&h, msg, sizeof h);
    hashes_[rank_] = payload_hash(msg, sizeof h + static_cast<size_t>(h.payload_bytes));
  }
  auto t0 = Clock::now();
  CrosscheckOutcome c = crosscheck(t_, ws_.crosscheck, plan_.fingerprint, seq_, static_cast<uint32_t>(i), hashes_,
                                   cfg_.checksum, cfg_.timeout_s, what_);
  comm_s_ += seconds_since(t0);
  sent_ += c.sent;
  received_ += c.received;
  for (const Error& bad : c.bad_rows) note_local(bad);
  const Round& round = plan_.rounds[e.round];
  for (int s : c.equivocators) {
    if (is_equivocator(s)) continue;
    equivocators_.insert(std::upper_bound(equivocators_.begin(), equivocators_.end(), s), s);
    result_.equivocators.push_back(s);
    if (!round.pieces.empty()) result_.per_segment[round.pieces[0].segment].equivocations++;
    GW_LOG(WARN, "robust: rank ", s, " sent different bytes to different ranks in exchange ", i, " of ", what_,
           "; left out of this call on every rank that agrees on the hash rows");
    // A layer without a rule sums every rank's payload: it cannot leave one out.
    for (const Piece& p : round.pieces)
      if (!plan_.segments[p.segment].rule) {
        note_local(Error(GW_ERR_CORRUPT,
                         concat_parts("rank ", s, " sent different bytes to different ranks in ", what_, "; layer '",
                                      plan_.segments[p.segment].layer->name,
                                      "' has no robust rule that could leave it out")));
        break;
      }
  }
}

void CollectiveRun::complete(size_t i) {
  const Exchange& e = ex_[i];
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  auto t0 = Clock::now();
  t_.wait(*set.batch, cfg_.timeout_s, what_);  // a timeout throws: the comm is broken
  comm_s_ += seconds_since(t0);
  if (stop_) return;  // draining after a stop: nothing to read
  const bool had_error = local_error_ != nullptr;
  check_received(i, e);
  if (crosschecks(i)) share_hashes(i);
  accept_findings();
  if (!local_error_ && !remote_error_) {
    try {
      process(i);
    } catch (const Error& err) {
      note_local(err);
    }
  }
  // A mismatch in exchange 0 is seen by every rank (everyone hears from
  // everyone there), so all stop now; their plans may not even agree on how
  // many exchanges follow.
  if (i == 0 && !had_error && local_error_ && local_error_->status() == GW_ERR_MISMATCH)
    stop_ = mismatch_in_exchange0_ = true;
  if (local_error_ && abort_sent_in_ >= 0 && static_cast<size_t>(abort_sent_in_) <= i) stop_ = true;
}

template <typename Take, typename Decode>
void CollectiveRun::combine_peers(const Piece& p, const Segment& seg, Take& take, Decode& decode) {
  const PeerRule& rule = *seg.rule;
  // A coordinate-wise rule runs piece by piece; any other sees the layer's
  // whole vectors, gathered over its pieces (in order, across rounds) into rows.
  const bool whole = !rule.coordinatewise();
  const size_t width = whole ? seg.count : p.count;
  const size_t at = whole ? p.begin - seg.offset : 0;
  std::vector<float>& rows = ws_.peer_values;
  if (rows.size() < width * static_cast<size_t>(n_)) rows.resize(width * static_cast<size_t>(n_));
  for (int src = 0; src < n_; ++src) {
    if (is_equivocator(src)) continue;  // its message differs between ranks: not even walked
    size_t bytes;
    const uint8_t* in = take(src, *seg.codec, p.count, &bytes);  // an excluded rank's is checked, not used
    if (is_excluded(src)) continue;
    float* row = rows.data() + static_cast<size_t>(src) * width + at;
    decode(src, *seg.codec, in, bytes, p.count, row, false);
    // Codecs decode finite inputs to finite values, so NaN/Inf that the
    // sender's header did not flag come from a payload forged under a valid
    // checksum: named, on every honest rank alike (they all decode the same bytes).
    if (!nonfinite_ranks_.count(src))
      for (size_t k = 0; k < p.count; ++k)
        GW_REQUIRE(std::isfinite(row[k]), GW_ERR_CORRUPT, "message from rank ", src, " for ", what_,
                   ": its values decode to NaN/Inf at index ", p.begin + k,
                   " that its header does not flag (a forged or corrupt payload)");
  }
  if (whole && p.begin + p.count != seg.offset + seg.count) return;  // the layer's later pieces still to come
  std::vector<const float*>& peers = ws_.peer_rows;
  std::vector<int>& ranks = ws_.peer_ranks;
  peers.clear();
  ranks.clear();
  for (int src = 0; src < n_; ++src) {
    if (is_excluded(src)) continue;
    peers.push_back(rows.data() + static_cast<size_t>(src) * width);
    ranks.push_back(src);
  }
  PeerRows call;
  call.rows = peers.data();
  call.ranks = ranks.data();
  call.m = static_cast<int>(peers.size());
  call.world = n_;
  call.key = rng_derive_key(cfg_.seed, seg.layer->step, seg.layer->name_hash, kRuleStream, 0);
  float* out = out_ + (whole ? seg.offset : p.begin);
  try {
    rule.combine(call, width, out, *seg.rule_state, result_.removed);
  } catch (const Error& err) {
    fail(err.status(), "layer '", seg.layer->name, "': ", err.what());
  }
  if (plan_.op == GW_SUM && n_ > 1) ops_.scale(out, width, static_cast<float>(n_));  // the rule estimates the mean
}

template <typename Take>
void CollectiveRun::decode_near_reference(const Piece& p, const Compressor& codec, Take& take) {
  GW_REQUIRE(plan_.kind == CallKind::kAllreduce && plan_.op == GW_SUM && in_ != out_, GW_ERR_INTERNAL, codec.spec(),
             " sums against the caller's untouched input");
  std::vector<uint32_t>& missed = ws_.missed_units;
  for (int src = 0; src < n_; ++src) {
    size_t bytes;
    const uint8_t* in = take(src, codec, p.count, &bytes);
    missed.clear();
    try {
      ops_.decode_near(codec, in, bytes, p.count, in_ + p.begin, out_ + p.begin, src != 0, &missed);
    } catch (const Error& err) {
      fail(err.status(), "message from rank ", src, " for ", what_, ": ", err.what());
    }
    for (uint32_t u : missed) result_.misses.push_back({p.segment, src, u});
  }
}

void CollectiveRun::process(size_t i) {
  const Exchange& e = ex_[i];
  Workspace::MessageSet& set = ws_.sets[e.set_kind()][e.parity()];
  auto message_of = [&](int src) -> const uint8_t* {
    if (src == rank_) return set.send[e.type == ExType::kScatter ? src : 0].data();
    return set.recv[src].data();
  };
  auto payload_of = [&](int src) { return message_of(src) + sizeof(MessageHeader); };
  // Payload lengths as the headers say (validated for peers' messages, ours as
  // written), and per source where the current piece starts.
  std::vector<size_t> length(n_, 0), offset(n_, 0);
  for (int src = 0; src < n_; ++src) {  // each message goes to where the data lives in one piece
    if (e.type == ExType::kScatter && src == rank_) continue;  // the owner's own part is raw data
    MessageHeader h;
    std::memcpy(&h, message_of(src), sizeof(h));
    length[src] = static_cast<size_t>(h.payload_bytes);
    ops_.stage(payload_of(src), length[src]);
  }
  // The next piece of src's payload (count values): where it starts, its length.
  auto take = [&](int src, const Compressor& codec, size_t count, size_t* bytes) {
    const uint8_t* at = payload_of(src) + offset[src];
    *bytes = codec.payload_extent(at, length[src] - offset[src], count);  // checked in check_received
    offset[src] += *bytes;
    return at;
  };
  // A payload that passed the header checks may still be bad inside (a topk
  // index out of range): the codec says what, this names who sent it.
  auto decode = [&](int src, const Compressor& codec, const uint8_t* in, size_t bytes, size_t count, float* to,
                    bool add) {
    try {
      ops_.decode(codec, in, bytes, count, to, add);
    } catch (const Error& err) {
      fail(err.status(), "message from rank ", src, " for ", what_, ": ", err.what());
    }
  };
  const bool avg = plan_.kind == CallKind::kAllreduce && plan_.op == GW_AVG;
  const float inv_n = 1.0f / static_cast<float>(n_);
  for (const Piece& p : plan_.rounds[e.round].pieces) {
    const Compressor& codec = *plan_.segments[p.segment].codec;
    auto t0 = Clock::now();
    if (e.type == ExType::kAllgather && plan_.kind == CallKind::kAllreduce && plan_.segments[p.segment].rule) {
      combine_peers(p, plan_.segments[p.segment], take, decode);
    } else if (e.type == ExType::kAllgather && plan_.segments[p.segment].traits.decodes_near_reference) {
      decode_near_reference(p, codec, take);
    } else if (e.type == ExType::kAllgather) {
      for (int src = 0; src < n_; ++src) {
        size_t bytes;
        const uint8_t* in = take(src, codec, p.count, &bytes);
        if (plan_.kind == CallKind::kAllgather)
          decode(src, codec, in, bytes, p.count, out_ + static_cast<size_t>(src) * plan_.total + p.begin, false);
        else
          decode(src, codec, in, bytes, p.count, out_ + p.begin, src != 0);
      }
      if (avg && n_ > 1) ops_.scale(out_ + p.begin, p.count, inv_n);
    } else if (e.type == ExType::kScatter) {
      // Owner of part rank_: own raw values plus every peer's decoded part, in rank order.
      size_t first, count;
      piece_part(p, rank_, n_, &first, &count);
      float* acc = out_ + first;
      ops_.copy(acc, in_ + first, count);
      for (int src = 0; src < n_; ++src) {
        if (src == rank_) continue;
        size_t bytes;
        const uint8_t* in = take(src, codec, count, &bytes);
        decode(src, codec, in, bytes, count, acc, true);
      }
      if (avg) ops_.scale(acc, count, inv_n);
    } else {
      // Gather: every part, from its owner's re-encoded payload (own one too).
      for (int src = 0; src < n_; ++src) {
        size_t first, count, bytes;
        piece_part(p, src, n_, &first, &count);
        const uint8_t* in = take(src, codec, count, &bytes);
        decode(src, codec, in, bytes, count, out_ + first, false);
      }
    }
    result_.per_segment[p.segment].decode_s += seconds_since(t0);
    progress_others(i);
  }
  auto t0 = Clock::now();
  ops_.finish_decodes();  // device decodes have read the host payloads
  if (!plan_.rounds[e.round].pieces.empty())
    result_.per_segment[plan_.rounds[e.round].pieces[0].segment].decode_s += seconds_since(t0);
}

CallResult CollectiveRun::run() {
  const size_t total = ex_.size();
  auto ready = [&](size_t i) {
    if (i == 0) return true;
    if (completed_ < 1) return false;          // exchange 0 validates the plan first
    if (launched_ - completed_ >= 2) return false;  // double buffering
    if (ex_[i].type == ExType::kGather) {      // needs its round's scatter reduced
      for (size_t k = completed_; k < i; ++k)
        if (ex_[k].type == ExType::kScatter && ex_[k].round == ex_[i].round) return false;
    }
    return true;
  };
  while (completed_ < launched_ || (!stop_ && launched_ < total)) {
    while (!stop_ && launched_ < total && ready(launched_)) launch(launched_++);
    complete(completed_++);
  }
  // Layers got their own payload bytes as messages went by; what no layer
  // owns (abort messages, damaged ones) goes to the first, so the layers add up
  // to the bytes on the wire. Waiting time is shared by payload bytes sent.
  if (!plan_.segments.empty()) {
    uint64_t s_sum = 0, r_sum = 0;
    for (auto& st : result_.per_segment) {
      s_sum += st.bytes_sent;
      r_sum += st.bytes_received;
    }
    result_.per_segment[0].bytes_sent += sent_ - s_sum;
    result_.per_segment[0].bytes_received += received_ - r_sum;
    for (auto& st : result_.per_segment)
      st.comm_s += sent_ ? comm_s_ * static_cast<double>(st.bytes_sent) / sent_ : comm_s_ / plan_.segments.size();
  }
  // A local fault that no abort message carried (found in the last exchange,
  // or after it was launched): the peers may have completed the call.
  if (local_error_ && abort_sent_in_ < 0 && !mismatch_in_exchange0_) t_.abandon(seq_, local_error_->status());
  if (local_error_) throw *local_error_;
  if (remote_error_) throw *remote_error_;
  result_.local_nonfinite = nonfinite_ranks_.count(rank_) > 0;
  result_.any_nonfinite = !nonfinite_ranks_.empty();
  if (!nonfinite_ranks_.empty() && cfg_.nonfinite == NonfinitePolicy::kError) {
    std::ostringstream ranks;
    for (int r : nonfinite_ranks_) ranks << (ranks.tellp() > 0 ? "," : "") << r;
    fail(GW_ERR_NONFINITE, "NaN or Inf in the input of rank(s) ", ranks.str(), " for ", what_,
         " (nonfinite=error; set nonfinite=propagate to let them flow into the result)");
  }
  return result_;
}

}  // namespace

size_t max_message_payload(const CallPlan& plan, int n) {
  size_t most = 0;
  for (const Round& r : plan.rounds) {
    for (int part = 0; part < n; ++part) {
      size_t whole = 0, split = 0;
      for (const Piece& p : r.pieces) {
        const Compressor& c = *plan.segments[p.segment].codec;
        size_t first, count;
        piece_part(p, part, n, &first, &count);
        whole += c.encoded_bytes(p.count);
        split += c.encoded_bytes(count);
      }
      most = std::max(most, plan.algorithm == Algorithm::kSra ? split : whole);
    }
  }
  return most;
}

CallResult run_collective(Transport& transport, Workspace& ws, DataOps& ops, const CallPlan& plan,
                          const Config& config, uint64_t seq, const float* in, float* out, const std::string& what) {
  CollectiveRun run(transport, ws, ops, plan, config, seq, in, out, what);
  return run.run();
}

}  // namespace gw
