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
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gw {

class Compressor;

constexpr int kMaxRounds = 2;

// What a layer does in one call: `rounds` == 0 means "send it exactly, in the
// first exchange" (too small to gain, a vector, before the first compressed step).
struct RoundLayout {
  int rounds = 0;
  size_t round_elems[kMaxRounds] = {};  // fp32 values this layer sends in each round
  size_t state_floats = 0;              // floats of scheme state beyond the feedback vectors
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
  bool average = false;  // GW_AVG (else GW_SUM)
  uint64_t key = 0;      // shared by all ranks: (seed, step, layer)
  float* send[kMaxRounds] = {};        // this rank's vector of each round
  const float* summed[kMaxRounds] = {};  // the sum over ranks of each round (after its exchange)
  float* summed_rw[kMaxRounds] = {};     // the same, writable (a scheme may work on it in place)
};

class RoundCodec {
 public:
  virtual ~RoundCodec() = default;
  // shape: the layer's hint (may be empty); step: the layer's call number.
  virtual RoundLayout layout(const std::vector<int64_t>& shape, size_t count, uint64_t step) const = 0;
  // Fresh state (a first call, or after a reset), identical on every rank.
  virtual void init_state(const RoundCall& c) const = 0;
  // Fills c.send[round] (round 0: from the input and state; later rounds also
  // from the earlier sums).
  virtual void produce(const RoundCall& c, int round) const = 0;
  // After round `round`'s exchange: c.summed[round] holds the sum over ranks.
  // The last round writes c.out and updates the state.
  virtual void consume(const RoundCall& c, int round) const = 0;
  // How the round vectors travel: "none" (fp32), "fp16", "bf16".
  virtual const std::shared_ptr<const Compressor>& factor_codec() const = 0;
};

}  // namespace gw
