// run_rounds' grow-only buffers and plans (communicator_rounds.cpp), reused call after call.
#pragma once

#include <cstddef>
#include <vector>

#include "src/algo/plan.h"
#include "src/scheme/round_codec.h"

namespace gw {

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
  std::vector<float> scratch;  // every item's RoundCall::scratch, back to back
  CallPlan plans[kMaxRounds];
  std::vector<size_t> origin[kMaxRounds];  // each round plan's segment -> the call's segment
  std::vector<float> send[kMaxRounds], recv[kMaxRounds];
};

}  // namespace gw
