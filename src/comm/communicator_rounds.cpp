// Calls holding layers of a round scheme (scheme/round_codec.h: PowerSGD).
//
// Exchange 0 carries the call's other layers (with their own codecs and
// feedback), the round layers that go exactly this time, and every
// compressing round layer's round-0 vector, packed into one buffer; exchange
// r >= 1 carries every round-r vector. Each exchange is an ordinary planned
// sum (allgather or SRA, or the small-call path), so a bucket of L matrices
// costs 2 exchanges, not 2L (PyTorch's hook runs 3 per bucket: the exact
// tensors first, then P, then Q). Compute sits between the exchanges; it does
// not overlap them yet.
//
// The round vectors' specs on the wire hold the layer's scheme spec, its
// matrix view and the op, so ranks that disagree on any of them meet a
// GW_ERR_MISMATCH naming the peer in exchange 0 (a later exchange starts only
// after every rank passed exchange 0's check). Later exchanges take the next
// call numbers, so no message of one exchange can pass as another's. A
// scheme may add rounds past its planned ones (lattice re-sends what some
// rank could not decode); the decision is taken from sums every rank holds,
// so every rank runs the same exchanges.
#include <algorithm>
#include <chrono>

#include "src/algo/plain_collective.h"
#include "src/comm/communicator.h"
#include "src/common/log.h"
#include "src/common/rng.h"
#include "src/spec/registry.h"

namespace gw {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr uint64_t kRoundKeyChunk = 0x726f756e64ull;  // "round": keys the shared randomness of round schemes

// The wire identity of a layer's round-r vector, cached on the layer: its key
// "scheme spec|layout|op" is compared piece by piece (no string is built per
// call) and the schemes are made again only when it changes.
const std::shared_ptr<const Scheme>& round_scheme(Layer& l, const Scheme& scheme, const RoundCodec& rc,
                                                  const RoundLayout& layout, bool average, int r) {
  const char* op = average ? "|avg" : "|sum";
  const std::string& k = l.round_key;
  const size_t a = scheme.spec.size(), b = layout.describe.size();
  const bool same = k.size() == a + 1 + b + 4 && k.compare(0, a, scheme.spec) == 0 && k[a] == '|' &&
                    k.compare(a + 1, b, layout.describe) == 0 && k.compare(a + 1 + b, 4, op) == 0;
  if (!same) {
    l.round_key = scheme.spec + "|" + layout.describe + op;
    for (int i = 0; i < kMaxRounds; ++i) {
      auto s = std::make_shared<Scheme>();
      s->codec = rc.round_vector_codec(i);
      s->spec = l.round_key + "|round " + std::to_string(i);
      l.round_schemes[i] = s;
    }
  }
  return l.round_schemes[r];
}

}  // namespace

CallResult Communicator::run_rounds(CallPlan& plan, uint64_t seq, const float* in, float* out, DataOps& ops,
                                    const std::string& what) {
  static const std::shared_ptr<const Compressor> identity = make_compressor("none");
  for (const Segment& s : plan.segments) {
    if (!s.codec->round_codec()) continue;
    GW_REQUIRE(plan.kind == CallKind::kAllreduce, GW_ERR_INVALID_USAGE, "layer '", s.layer->name, "': ", s.spec(),
               " compresses sums; an allgather has none");
  }
  for (const Segment& s : plan.segments)
    GW_REQUIRE(!s.rule, GW_ERR_UNSUPPORTED, "layer '", s.layer->name, "': robust=", s.rule->name(),
               " needs every peer's vector, and this call holds round schemes, which send sums instead");
  if (!rounds_) rounds_.reset(new RoundsScratch());
  RoundsScratch& w = *rounds_;
  const int n = size();
  const bool average = plan.op == GW_AVG;
  // Device data reaches here only when every round codec runs there
  // (communicator_placement.cpp): state, round vectors and compute stay on
  // the GPU, on the caller's stream; the exchanges stage their payloads.
  const bool dev = ops.on_device();

  // Each round layer's layout for this call, and its state (bound, and filled when fresh).
  w.items.clear();
  w.items.reserve(plan.segments.size());  // RoundCall keeps a pointer to its item's layout
  int depth = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    Segment& s = plan.segments[i];
    const RoundCodec* rc = s.codec->round_codec();
    if (!rc) continue;
    w.items.emplace_back();
    RoundsScratch::Item& it = w.items.back();
    it.segment = i;
    try {
      it.layout = rc->layout(s.layer->shape, s.count, s.layer->step, n);
    } catch (const Error& e) {
      throw Error(e.status(), concat_parts("layer '", s.layer->name, "': ", e.what()));
    }
    RoundCall& c = it.call;
    c.layout = &it.layout;
    c.in = in + s.offset;
    c.out = out + s.offset;
    c.count = s.count;
    c.ranks = n;
    c.rank = rank();
    c.average = average;
    c.on_device = dev;
    c.stream = ops.stream();
    c.key = rng_derive_key(config_.seed, s.layer->step, s.layer->name_hash, 0, kRoundKeyChunk);
    if (it.layout.state_floats || it.layout.rounds) {
      LayerState& st = bind_state(s, it.layout.state_floats);
      float* base = dev ? st.device() : st.host();
      c.residual = st.vectors() ? base : nullptr;
      c.state = base + st.vectors() * s.count;
      s.feedback_state = base;  // so a failed call or a NaN input resets it (communicator_feedback.cpp)
      if (st.needs_init()) {
        rc->init_state(c);
        st.mark_initialized();
      }
    }
    depth = std::max(depth, it.layout.rounds);
    it.next = it.layout.rounds > 0 ? 0 : -1;
    it.elems = it.layout.round_elems[0];
  }
  size_t scratch = 0;
  for (const RoundsScratch::Item& it : w.items) scratch += it.layout.scratch_floats;
  float* scratch_base = w.scratch.get(scratch, dev);
  scratch = 0;
  for (RoundsScratch::Item& it : w.items) {
    it.call.scratch = it.layout.scratch_floats ? scratch_base + scratch : nullptr;
    scratch += it.layout.scratch_floats;
  }

  CallResult result;
  result.per_segment.resize(plan.segments.size());
  auto run_round = [&](int r, uint64_t sq, const float* from, float* to) {
    CallPlan& p = w.plans[r];
    plan_call(p, dev);
    if (dev) {  // this exchange's codecs (the round vectors', the other layers') and staging
      std::vector<const Compressor*> codecs;
      for (const Segment& s : p.segments) codecs.push_back(s.codec.get());
      const size_t most = max_message_payload(p, n);
      GW_REQUIRE(ops.prepare(codecs, ops.stream(), most, most * static_cast<size_t>(n)), GW_ERR_INTERNAL,
                 "a round exchange's codec has no GPU twin");
    }
    CallResult sub = p.algorithm == Algorithm::kPlain
                         ? run_plain_collective(*transport_, ws_, ops, p, config_, sq, from, to, what)
                         : run_collective(*transport_, ws_, ops, p, config_, sq, from, to, what);
    for (size_t j = 0; j < sub.per_segment.size(); ++j) result.per_segment[w.origin[r][j]].add(sub.per_segment[j]);
    result.local_nonfinite |= sub.local_nonfinite;
    result.any_nonfinite |= sub.any_nonfinite;
    if (sub.misses.empty()) return;
    for (RoundsScratch::Item& it : w.items) {  // items follow the segments' order; so do the misses
      if (it.next != r) continue;
      for (const DecodeMiss& m : sub.misses)
        if (w.origin[r][m.segment] == it.segment) it.call.misses.emplace_back(m.sender, m.unit);
    }
  };
  auto start_plan = [&](int r, gw_op op) -> CallPlan& {
    CallPlan& p = w.plans[r];
    p.segments.clear();  // keeps capacity call after call
    p.kind = CallKind::kAllreduce;
    p.op = op;
    p.dtype = GW_FLOAT32;
    p.excluded.clear();
    w.origin[r].clear();
    return p;
  };
  auto add_factors = [&](int r, CallPlan& p, size_t at) {
    for (RoundsScratch::Item& it : w.items) {
      if (it.next != r) continue;
      const Segment& s = plan.segments[it.segment];
      Segment f;
      f.layer = s.layer;
      f.scheme = round_scheme(*s.layer, *s.scheme, *s.codec->round_codec(), it.layout, average, r);
      f.codec = f.scheme->codec;
      f.traits = f.codec->traits();
      f.offset = it.slot[r] = at;
      f.count = it.elems;
      at += f.count;
      p.segments.push_back(f);
      w.origin[r].push_back(it.segment);
    }
    return at;
  };

  // Exchange 0: the call's other layers, the exact round layers, the round-0 vectors.
  // With no vector to add it is the call itself, on the caller's buffers.
  CallPlan& p0 = start_plan(0, depth ? GW_SUM : plan.op);
  size_t at = 0, next_item = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    Segment s = plan.segments[i];
    if (s.codec->round_codec()) {
      const RoundsScratch::Item& it = w.items[next_item++];  // items follow the segments' order
      if (it.layout.rounds > 0) continue;  // its round-0 vector goes below
      s.codec = identity;                    // exact this time; the spec on the wire stays the scheme's
      s.traits = identity->traits();
      s.feedback_state = nullptr;
    }
    if (depth) {
      s.offset = at;
      at += s.count;
    }
    p0.segments.push_back(s);
    w.origin[0].push_back(i);
  }
  if (!depth) {
    p0.total = plan.total;
    run_round(0, seq, in, out);
    return result;
  }
  const size_t exact_segments = p0.segments.size();  // packed first, at [0, at)
  p0.total = add_factors(0, p0, at);
  float* send[kMaxRounds] = {};
  float* recv[kMaxRounds] = {};
  send[0] = w.send[0].get(p0.total, dev);
  recv[0] = w.recv[0].get(p0.total, dev);
  for (size_t j = 0; j < exact_segments; ++j)
    ops.copy(send[0] + p0.segments[j].offset, in + plan.segments[w.origin[0][j]].offset, p0.segments[j].count);
  // Round by round, each with the layers whose scheme takes part in it (all of
  // them in round 0; later rounds as next_round says, the same on every rank).
  for (int r = 0; r < kMaxRounds; ++r) {
    if (r > 0) {
      if (std::none_of(w.items.begin(), w.items.end(), [&](const RoundsScratch::Item& it) { return it.next == r; }))
        continue;
      CallPlan& p = start_plan(r, GW_SUM);
      p.total = add_factors(r, p, 0);
      send[r] = w.send[r].get(p.total, dev);
      recv[r] = w.recv[r].get(p.total, dev);
    }
    for (RoundsScratch::Item& it : w.items) {
      if (it.next != r) continue;
      RoundCall& c = it.call;
      c.misses.clear();
      c.retries = &result.per_segment[it.segment].decode_retries;
      c.send[r] = send[r] + it.slot[r];
      c.summed[r] = c.summed_rw[r] = recv[r] + it.slot[r];
      auto t0 = Clock::now();
      plan.segments[it.segment].codec->round_codec()->produce(c, r);
      result.per_segment[it.segment].encode_s += seconds_since(t0);
    }
    run_round(r, r == 0 ? seq : seq_++, send[r], recv[r]);
    if (r == 0) {  // the exact layers' results go back to the caller's buffer
      for (size_t j = 0; j < exact_segments; ++j) {
        const Segment& s = plan.segments[w.origin[0][j]];
        float* dst = out + s.offset;
        ops.copy(dst, recv[0] + p0.segments[j].offset, s.count);
        if (average && n > 1) ops.scale(dst, s.count, 1.0f / static_cast<float>(n));  // summed above
      }
    }
    for (RoundsScratch::Item& it : w.items) {
      if (it.next != r) continue;
      const RoundCodec& rc = *plan.segments[it.segment].codec->round_codec();
      auto t0 = Clock::now();
      try {
        rc.consume(it.call, r);
      } catch (const Error& e) {  // raised on every rank alike: the sums it read are the same everywhere
        throw Error(e.status(), concat_parts("layer '", plan.segments[it.segment].layer->name, "': ", e.what()));
      }
      result.per_segment[it.segment].decode_s += seconds_since(t0);
      it.next = rc.next_round(it.call, r, &it.elems);
      GW_REQUIRE(it.next == -1 || (it.next > r && it.next < kMaxRounds), GW_ERR_INTERNAL,
                 plan.segments[it.segment].spec(), " asked for round ", it.next, " after round ", r);
    }
  }
  // The MPI path's contract on device buffers: the call returns with the
  // result (and the state) in place, as the staged path does.
  ops.synchronize();
  return result;
}

}  // namespace gw
