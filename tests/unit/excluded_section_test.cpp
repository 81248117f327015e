// The excluded set in state records (version 5, src/scheme/excluded_section.h):
// a layer with a rule carries the communicator's excluded ranks and a load
// returns them; a layer without a rule carries none; version 4 records load
// with none; a section the saver cannot have written is GW_ERR_CORRUPT, one
// that does not fit the communicator (another world size, no majority left
// with the ranks excluded now) GW_ERR_INVALID_ARGUMENT, and either leaves
// the layer as it was.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/robust/peer_rule.h"
#include "src/scheme/state_record.h"
#include "tests/common/state_record_edit.h"

namespace gw {
namespace {

using gw_record::with_excluded;

constexpr int kWorld = 5;

void name(Layer& l) {
  l.name = "w";
  l.name_hash = fnv1a64(l.name);
}

// A cc layer's record (center of 3 floats, 7 calls) carrying `ranks` of kWorld.
std::vector<uint8_t> cc_record(const PeerRule& cc, const std::vector<int>& ranks) {
  Layer l;
  name(l);
  l.step = 7;
  l.rule_state.calls = 7;
  l.rule_state.count = 3;
  l.rule_state.center = {0.5f, -1.0f, 2.0f};
  ExcludedRanks ex;
  ex.world = kWorld;
  ex.ranks = ranks;
  return save_state_record(l, &cc, ex);
}

struct Loaded {
  gw_status status = GW_SUCCESS;
  std::vector<int> ranks;
  Layer layer;
};

std::unique_ptr<Loaded> load(const std::vector<uint8_t>& rec, const PeerRule* rule, int world = kWorld,
                             const std::vector<int>& now = {}) {
  std::unique_ptr<Loaded> got(new Loaded());
  name(got->layer);
  got->layer.step = 1;  // a load that fails leaves it so
  try {
    got->ranks = load_state_record(got->layer, rec.data(), rec.size(), "", rule, world, now);
  } catch (const Error& e) {
    got->status = e.status();
  }
  return got;
}

TEST(ExcludedSection, ALayerWithARuleCarriesTheSetAndBackToTheSameBytes) {
  const auto cc = make_peer_rule("cc");
  const std::vector<uint8_t> rec = cc_record(*cc, {1, 4});
  const auto got = load(rec, cc.get());
  ASSERT_EQ(got->status, GW_SUCCESS);
  EXPECT_EQ(got->ranks, (std::vector<int>{1, 4}));
  EXPECT_EQ(got->layer.rule_state.center, (std::vector<float>{0.5f, -1.0f, 2.0f}));
  ExcludedRanks ex;
  ex.world = kWorld;
  ex.ranks = got->ranks;
  EXPECT_EQ(save_state_record(got->layer, cc.get(), ex), rec);
  // Ranks already excluded count once: {1} now and {1, 4} leave 3 of 5.
  EXPECT_EQ(load(rec, cc.get(), kWorld, {1})->status, GW_SUCCESS);
  // The set is the communicator's: it applies under a rule that keeps no state too.
  const auto median = make_peer_rule("median");
  Layer m;
  name(m);
  ExcludedRanks one;
  one.world = kWorld;
  one.ranks = {2};
  EXPECT_EQ(load(save_state_record(m, median.get(), one), cc.get())->ranks, std::vector<int>{2});
}

TEST(ExcludedSection, ALayerWithoutARuleCarriesNone) {
  Layer l;
  name(l);
  ExcludedRanks ex;
  ex.world = kWorld;
  ex.ranks = {3};
  const std::vector<uint8_t> rec = save_state_record(l, nullptr, ex);
  const auto got = load(rec, nullptr);
  ASSERT_EQ(got->status, GW_SUCCESS);
  EXPECT_TRUE(got->ranks.empty());
  // The same section written under no rule's name is damage.
  EXPECT_EQ(load(with_excluded(rec, kWorld, {3}), nullptr)->status, GW_ERR_CORRUPT);
  EXPECT_EQ(load(with_excluded(rec, kWorld, {}), nullptr)->status, GW_ERR_CORRUPT);
}

TEST(ExcludedSection, Version4RecordsLoadWithNoRanks) {
  const auto cc = make_peer_rule("cc");
  const auto got = load(gw_record::as_version(cc_record(*cc, {1}), 4), cc.get());
  ASSERT_EQ(got->status, GW_SUCCESS);
  EXPECT_TRUE(got->ranks.empty());
  EXPECT_EQ(got->layer.step, 7u);
  EXPECT_EQ(got->layer.rule_state.center.size(), 3u);  // the rule state still comes back
}

TEST(ExcludedSection, SectionsTheSaverCannotHaveWrittenAreCorrupt) {
  const auto cc = make_peer_rule("cc");
  const std::vector<uint8_t> rec = cc_record(*cc, {});
  const struct {
    uint32_t world, count;
    std::vector<uint32_t> ranks;
    const char* what;
  } lies[] = {
      {kWorld, 1, {kWorld}, "a rank at the world size"},
      {kWorld, 1, {~0u}, "a rank far out of range"},
      {kWorld, 2, {2, 2}, "a repeated rank"},
      {kWorld, 2, {3, 1}, "ranks out of order"},
      {0, 1, {0}, "ranks of world 0"},
      {kWorld, kWorld + 1, {0, 1, 2, 3, 4, 4}, "more ranks than the world"},
      {kWorld, 2, {1}, "a count past the record's end"},
      {kWorld, ~0u, {1}, "a count far past it"},
      {0x80000000u, 0, {}, "a world size no int holds"},
  };
  for (const auto& lie : lies) {
    const auto got = load(with_excluded(rec, lie.world, lie.count, lie.ranks), cc.get());
    EXPECT_EQ(got->status, GW_ERR_CORRUPT) << lie.what;
    EXPECT_EQ(got->layer.step, 1u) << lie.what;
    EXPECT_TRUE(got->layer.rule_state.center.empty()) << lie.what;
  }
  // Fewer ranks than the bytes that follow: bytes after the last field.
  EXPECT_EQ(load(with_excluded(rec, kWorld, 1, {1, 2}), cc.get())->status, GW_ERR_CORRUPT);
  // Cut inside the section (the CRC fixed up).
  std::vector<uint8_t> cut = cc_record(*cc, {1, 2});
  cut.erase(cut.end() - 8, cut.end() - 4);
  gw_record::reseal(cut);
  EXPECT_EQ(load(cut, cc.get())->status, GW_ERR_CORRUPT);
}

TEST(ExcludedSection, SetsThatDoNotFitTheCommunicatorAreInvalid) {
  const auto cc = make_peer_rule("cc");
  struct Case {
    std::vector<int> ranks;
    int world;
    std::vector<int> now;
    const char* what;
  };
  const Case cases[] = {
      {{1}, kWorld + 1, {}, "saved on another number of ranks"},
      {{1}, kWorld - 1, {}, "saved on more ranks"},
      {{0, 1, 2}, kWorld, {}, "3 of 5 excluded: no majority"},
      {{3}, kWorld, {0, 1}, "with the 2 excluded now: no majority"},
  };
  for (const Case& c : cases) {
    const auto got = load(cc_record(*cc, c.ranks), cc.get(), c.world, c.now);
    EXPECT_EQ(got->status, GW_ERR_INVALID_ARGUMENT) << c.what;
    EXPECT_EQ(got->layer.step, 1u) << c.what;
    EXPECT_TRUE(got->ranks.empty()) << c.what;
  }
  // Without ranks the world size is the rule state's business: cc's center fits any.
  EXPECT_EQ(load(cc_record(*cc, {}), cc.get(), kWorld + 2)->status, GW_SUCCESS);
  // Two of five excluded still leave a majority.
  EXPECT_EQ(load(cc_record(*cc, {0, 4}), cc.get())->status, GW_SUCCESS);
}

}  // namespace
}  // namespace gw
