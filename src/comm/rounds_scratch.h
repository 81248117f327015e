// run_rounds' grow-only buffers and plans (communicator_rounds.cpp), reused call after call.
#pragma once

#include <cstddef>
#include <vector>

#include "src/algo/plan.h"
#include "src/scheme/round_codec.h"

namespace gw {

// A round's vectors, where the call's data lives: host memory, or GPU memory
// for a call whose round schemes run on the device.
class RoundBuffer {
 public:
  RoundBuffer() = default;
  RoundBuffer(const RoundBuffer&) = delete;
  RoundBuffer& operator=(const RoundBuffer&) = delete;
  ~RoundBuffer();
  // At least n floats; what an earlier get() held is not kept when it grows.
  float* get(size_t n, bool on_device);

 private:
  std::vector<float> host_;
  float* device_ = nullptr;
  size_t device_floats_ = 0;
};

struct RoundsScratch {
  struct Item {
    size_t segment = 0;  // in the call's plan
    RoundLayout layout;
    RoundCall call;
    size_t slot[kMaxRounds] = {};  // offset of its vector in each round's buffers
    int next = -1;                 // the round it takes part in next (-1: done)
    size_t elems = 0;              // the values it sends in that round
  };
  std::vector<Item> items;
  RoundBuffer scratch;  // every item's RoundCall::scratch, back to back
  CallPlan plans[kMaxRounds];
  std::vector<size_t> origin[kMaxRounds];  // each round plan's segment -> the call's segment
  RoundBuffer send[kMaxRounds], recv[kMaxRounds];
};

}  // namespace gw
