// A scheme that runs several exchanges in one call, with compute between them
// (low rank: P = M Q summed, then Q = M^T P summed). The engine
// (src/comm/communicator_rounds.cpp) batches every such layer of a call into
// the same exchanges — all layers' round-0 vectors in one compressed exchange
// together with the call's other layers, then all round-1 vectors in the next
// — so a bucket costs as many exchanges as the deepest scheme has rounds, not
// that many per layer. Each exchange is an ordinary planned collective (sum of
// fp32 vectors, or of a factor codec's payloads), so it keeps every guarantee
// of one: plan check in its first message, CRC, timeout, abort protocol.
//
// A round codec sees a layer as its calls give it: count values, a shape hint
// and a step. It decides per call whether the layer is compressed this time
// (layout) or travels exactly in the first exchange, what state it keeps
// (floats in the layer's LayerState, initialised by init_state), and what it
// sends in every round (produce) and does with every summed round (consume).
//
// A scheme may also decide, from what every rank has seen (a sum, so the
// decision is the same everywhere), which round comes next: the lattice
// scheme re-sends the chunks some receiver could not decode in extra rounds
// past its planned ones (next_round). A round is only ever followed by a later
// one, so the engine runs the rounds in order, each round's layers together,
// and skips a round no layer needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gw {

class Compressor;

// Planned rounds and the extra ones a scheme may take (lattice: a sample, its
// codes, their check, and up to three re-sends each followed by its check).
constexpr int kMaxRounds = 9;

// What a layer does in one call: `rounds` == 0 means "send it exactly, in the
// first exchange" (too small to gain, a vector, before the first compressed step).
struct RoundLayout {
  int rounds = 0;
  size_t round_elems[kMaxRounds] = {};  // fp32 values this layer sends in each round
  size_t state_floats = 0;              // floats of scheme state beyond the feedback vectors
  size_t scratch_floats = 0;            // floats of working memory for this call only
  std::string describe;                 // shape and parameters: part of the rounds' specs on the wire
  // Scheme-specific geometry, read back by produce/consume (PowerSGD: rows, cols, rank).
  size_t dims[4] = {};
};

// One layer's view of a call, round by round.
struct RoundCall {
  const RoundLayout* layout = nullptr;
  const float* in = nullptr;  // the layer's input (caller's buffer; unchanged until the last consume)
  float* out = nullptr;       // the layer's output (written by the last consume; may alias in)
  float* residual = nullptr;  // error-feedback vector (count floats), or null without feedback
  float* state = nullptr;     // the scheme's own state (layout->state_floats floats)
  size_t count = 0;
  int ranks = 1;
  int rank = 0;
  bool average = false;  // GW_AVG (else GW_SUM)
  uint64_t key = 0;      // shared by all ranks: (seed, step, layer)
  float* send[kMaxRounds] = {};        // this rank's vector of each round
  const float* summed[kMaxRounds] = {};  // the sum over ranks of each round (after its exchange)
  float* summed_rw[kMaxRounds] = {};     // the same, writable (a scheme may work on it in place)
  float* scratch = nullptr;              // layout->scratch_floats floats, kept through the call
  // Filled after each exchange of a round whose codec decodes against a
  // reference (CompressorTraits::decodes_near_reference): the (sender, check
  // unit) pairs this rank could not decode. This rank's view only: a scheme
  // shares it in a later round before it acts on it.
  std::vector<std::pair<int, uint32_t>> misses;
  uint64_t* retries = nullptr;  // the layer's count of re-sent units in this call's stats
  // Where every pointer above lives. On the device (only for a codec whose
  // runs_on_device() is true) produce and consume enqueue their work on
  // `stream`, the caller's, and return without waiting for it.
  bool on_device = false;
  void* stream = nullptr;
};

class RoundCodec {
 public:
  virtual ~RoundCodec() = default;
  // shape: the layer's hint (may be empty); step: the layer's call number; ranks: the communicator's size.
  virtual RoundLayout layout(const std::vector<int64_t>& shape, size_t count, uint64_t step, int ranks) const = 0;
  // Fresh state (a first call, or after a reset), identical on every rank.
  virtual void init_state(const RoundCall& c) const = 0;
  // Fills c.send[round] (round 0: from the input and state; later rounds also
  // from the earlier sums).
  virtual void produce(const RoundCall& c, int round) const = 0;
  // After round `round`'s exchange: c.summed[round] holds the sum over ranks.
  // The last round writes c.out and updates the state.
  virtual void consume(const RoundCall& c, int round) const = 0;
  // True when produce, consume and init_state also take device memory
  // (RoundCall::on_device); otherwise a call on device buffers is staged whole
  // to the host path.
  virtual bool runs_on_device() const { return false; }
  // How the round vectors travel: "none" (fp32), "fp16", "bf16".
  virtual const std::shared_ptr<const Compressor>& factor_codec() const = 0;
  // How round r's vectors travel, when the rounds differ (lattice: its codes in
  // one round, exact samples and checks in the others); factor_codec() by default.
  virtual const std::shared_ptr<const Compressor>& round_vector_codec(int /*round*/) const {
    return factor_codec();
  }
  // After consume(c, round): the round to run next (> round), with the fp32
  // values this layer sends in it in *elems, or -1 when the layer is done. It
  // must depend only on what every rank has in common (sums, the layout), so
  // every rank takes the same path. By default the planned rounds, in order.
  virtual int next_round(const RoundCall& c, int round, size_t* elems) const {
    if (round + 1 >= c.layout->rounds) return -1;
    *elems = c.layout->round_elems[round + 1];
    return round + 1;
  }
};

}  // namespace gw
