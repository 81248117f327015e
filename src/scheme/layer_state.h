// A layer's scheme state: the vectors its error feedback keeps across calls
// (ef=1: the residual e; ef21: this rank's g_i, then the shared aggregate g),
// then the floats a round scheme keeps beyond them (`extra`: PowerSGD's Q).
// It lives where the layer's data does: host memory, or device memory while the
// layer runs on a GPU (moved over, once, when a call's data moves).
//
// State belongs to one (scheme spec, count): a call with another spec or count
// resets it to zeros, and the caller logs and counts that (never silently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/core/compressor.h"

namespace gw {

class LayerState {
 public:
  LayerState() = default;
  LayerState(const LayerState&) = delete;
  LayerState& operator=(const LayerState&) = delete;
  ~LayerState();

  const std::string& spec() const { return spec_; }
  size_t count() const { return count_; }
  Feedback mode() const { return mode_; }
  size_t vectors() const { return vectors_of(mode_); }
  size_t extra() const { return extra_; }
  size_t floats() const { return vectors() * count_ + extra_; }
  size_t bytes() const { return floats() * sizeof(float); }
  bool empty() const { return floats() == 0; }
  // True from a bind that changed the state or a zero() until mark_initialized():
  // a round scheme then fills its fresh state (feedback vectors start at zero).
  bool needs_init() const { return needs_init_; }
  void mark_initialized() { needs_init_ = false; }
  static size_t vectors_of(Feedback m) { return m == Feedback::kEf21 ? 2 : m == Feedback::kResidual ? 1 : 0; }

  // Makes the state belong to (spec, count, mode, extra floats). Returns a
  // description of what was dropped ("spec A -> B") when held state was reset;
  // "" otherwise.
  std::string bind(const std::string& spec, size_t count, Feedback mode, size_t extra = 0);
  // Zeros every vector (after a failed call, whose partial update is not kept).
  void zero();

  // The vectors, vectors() x count floats back to back, where the data lives.
  float* host();
  float* device();  // allocates on first use (cudaMalloc); needs a CUDA build

  // Replaces the state (state records): host floats, vectors_of(mode) x count + extra.
  void assign(const std::string& spec, size_t count, Feedback mode, size_t extra, const float* values);

 private:
  void release_device();

  std::string spec_;
  size_t count_ = 0;
  Feedback mode_ = Feedback::kNone;
  size_t extra_ = 0;
  bool needs_init_ = true;
  std::vector<float> host_;
  float* device_ = nullptr;
  size_t device_floats_ = 0;
  bool on_device_ = false;  // the device copy is the current one
};

}  // namespace gw
