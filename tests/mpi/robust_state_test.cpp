// A robust rule's per-layer state in checkpoints (gw_layer_save_state /
// gw_layer_load_state, src/scheme/state_record.h version 5): a run saved
// after some calls, loaded into a fresh communicator and continued gives the
// same bytes, on every rank, as the run that was never interrupted, for
// centered clipping (its center) and SafeguardSGD (its windows: the attacker
// is removed at the same call), with raw and compressed payloads (the
// scheme's own state in the same record), and for a layer's own rule; a
// record of one rule's state is refused by a layer whose calls use another.
// The communicator's excluded set in the same records: excluded_state_test.cpp.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/mpi/mpi_test_util.h"

namespace gwtest {
namespace {

const char* const kLayer = "w";
constexpr size_t kCount = 5003;

// Rank r's input at call t, the last rank pushing every value by `bias`.
std::vector<float> input_at(int t, float bias) {
  std::vector<float> in = make_input(world_rank(), kCount, 300u + static_cast<uint32_t>(t));
  if (world_rank() == world_size() - 1)
    for (float& x : in) x += bias;
  return in;
}

int excluded_count(gw_comm_t c) {
  int count = -1;
  EXPECT_EQ(gw_comm_get_excluded(c, nullptr, 0, &count), GW_SUCCESS) << gw_last_error();
  return count;
}

struct Call {
  std::vector<float> out;
  int excluded = 0;  // ranks excluded after the call
};

// Calls [from, to) of layer "w" on `c`.
std::vector<Call> run_calls(gw_comm_t c, int from, int to, float bias) {
  std::vector<Call> calls;
  for (int t = from; t < to; ++t) {
    const std::vector<float> in = input_at(t, bias);
    Call k;
    k.out.assign(kCount, -7.0f);
    EXPECT_EQ(gw_allreduce(c, kLayer, in.data(), k.out.data(), kCount, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
        << "call " << t << ": " << gw_last_error();
    k.excluded = excluded_count(c);
    calls.push_back(std::move(k));
  }
  return calls;
}

// Runs `total` calls without a break, and again as `cut` calls, a save, a
// fresh communicator that loads the record, and the rest; the continued
// calls must equal the uninterrupted ones bit for bit. `layer_rule` is set
// on the layer of every communicator when not empty. Returns the
// uninterrupted calls.
std::vector<Call> expect_resumes_exactly(const std::string& config, const std::string& layer_rule, int cut,
                                         int total, float bias) {
  auto make = [&] {
    gw_comm_t c = make_comm(config);
    if (!layer_rule.empty())
      EXPECT_EQ(gw_layer_set_robust(c, kLayer, layer_rule.c_str()), GW_SUCCESS) << gw_last_error();
    return c;
  };
  gw_comm_t whole = make();
  const std::vector<Call> want = run_calls(whole, 0, total, bias);
  gw_comm_destroy(whole);

  gw_comm_t first = make();
  run_calls(first, 0, cut, bias);
  const std::vector<uint8_t> rec = save_layer_state(first, kLayer);
  gw_comm_destroy(first);
  gw_comm_t resumed = make();
  EXPECT_EQ(gw_layer_load_state(resumed, kLayer, rec.data(), rec.size()), GW_SUCCESS) << gw_last_error();
  const std::vector<Call> got = run_calls(resumed, cut, total, bias);
  gw_comm_destroy(resumed);
  for (int t = cut; t < total; ++t) {
    const Call& g = got[static_cast<size_t>(t - cut)];
    const Call& w = want[static_cast<size_t>(t)];
    EXPECT_EQ(0, std::memcmp(g.out.data(), w.out.data(), kCount * sizeof(float))) << config << " call " << t;
    EXPECT_EQ(g.excluded, w.excluded) << config << " call " << t;
    EXPECT_TRUE(same_on_all_ranks(g.out.data(), kCount * sizeof(float))) << config << " call " << t;
  }
  return want;
}

TEST(RobustState, CenteredClippingResumesBitForBit) {
  for (const char* config : {"compressor=none;robust=cc:tau=1",
                             "compressor=maxmin:bits=8,ef=1;robust=cc:tau=0.5,iters=2",
                             "compressor=qsgd:bits=4,ef=ef21;robust=cc:tau=2"}) {
    const std::vector<Call> want = expect_resumes_exactly(config, "", 4, 8, 0.0f);
    // The center matters: the same continuation without the record differs.
    gw_comm_t fresh = make_comm(config);
    const std::vector<Call> cold = run_calls(fresh, 4, 5, 0.0f);
    gw_comm_destroy(fresh);
    EXPECT_NE(0, std::memcmp(cold[0].out.data(), want[4].out.data(), kCount * sizeof(float))) << config;
  }
}

TEST(RobustState, ALayersOwnRuleResumesBitForBit) {
  expect_resumes_exactly("compressor=none;robust=median", "cc:tau=1", 3, 6, 0.0f);
}

TEST(RobustState, SafeguardWindowsResumeAndRemoveTheAttackerAtTheSameCall) {
  // A small steady bias: the short window (3 calls) never sees it, the long
  // one (32) after a dozen calls. The cut comes before that, so the resumed
  // run removes the attacker only if its windows came back.
  const int cut = 6, total = 18;
  const float bias = 0.35f;
  const char* config = "compressor=none;robust=safeguard:long=32,short=3,ratio=3";
  const std::vector<Call> want = expect_resumes_exactly(config, "", cut, total, bias);
  if (world_size() < 3) return;  // two ranks cannot tell who drifts: nobody is removed
  int removed_at = -1;
  for (int t = 0; t < total && removed_at < 0; ++t)
    if (want[static_cast<size_t>(t)].excluded) removed_at = t;
  EXPECT_GT(removed_at, cut) << "the uninterrupted run removed nobody after the cut";
  // Without the windows the fresh run has not removed it by the end.
  gw_comm_t fresh = make_comm(config);
  const std::vector<Call> cold = run_calls(fresh, cut, total, bias);
  gw_comm_destroy(fresh);
  EXPECT_EQ(cold.back().excluded, 0);
}

TEST(RobustState, ARecordOfOneRulesStateIsRefusedUnderAnother) {
  gw_comm_t cc = make_comm("compressor=none;robust=cc:tau=1");
  run_calls(cc, 0, 2, 0.0f);
  const std::vector<uint8_t> rec = save_layer_state(cc, kLayer);
  gw_comm_destroy(cc);
  for (const char* other : {"compressor=none;robust=median", "compressor=none;robust=cc:tau=2", "compressor=none"}) {
    gw_comm_t c = make_comm(other);
    EXPECT_EQ(gw_layer_load_state(c, kLayer, rec.data(), rec.size()), GW_ERR_INVALID_ARGUMENT) << other;
    EXPECT_TRUE(contains(gw_last_error(), "robust")) << gw_last_error();
    run_calls(c, 2, 3, 0.0f);  // the layer was left alone: calls go on
    gw_comm_destroy(c);
  }
  // A median layer's record holds no rule state: a cc layer loads it and starts fresh.
  gw_comm_t median = make_comm("compressor=none;robust=median");
  run_calls(median, 0, 2, 0.0f);
  const std::vector<uint8_t> mrec = save_layer_state(median, kLayer);
  gw_comm_destroy(median);
  gw_comm_t c = make_comm("compressor=none;robust=cc:tau=1");
  EXPECT_EQ(gw_layer_load_state(c, kLayer, mrec.data(), mrec.size()), GW_SUCCESS) << gw_last_error();
  const std::vector<Call> got = run_calls(c, 2, 3, 0.0f);
  gw_comm_destroy(c);
  EXPECT_TRUE(same_on_all_ranks(got[0].out.data(), kCount * sizeof(float)));
}

}  // namespace
}  // namespace gwtest
