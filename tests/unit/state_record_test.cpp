// The layer state record (src/scheme/state_record.h): version 3 carries a round
// scheme's extra floats after the feedback vectors; version 2 records (no
// `extra` field) still load; a record whose sizes lie, or that is cut short or
// damaged, is GW_ERR_CORRUPT and leaves the layer as it was.
#include <gtest/gtest.h>

#include <cstring>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/scheme/state_record.h"
#include "src/wire/checksum.h"

namespace gw {
namespace {

void name(Layer& l, const char* n) {
  l.name = n;
  l.name_hash = fnv1a64(l.name);
}

// The offset of the u32 `vectors` field: fixed fields, then the spec.
size_t vectors_at(const std::vector<uint8_t>& rec) {
  size_t at = 4 + 4 + 8 + 8 + 6 * 8 + 4 * 8;
  uint32_t spec_len;
  std::memcpy(&spec_len, rec.data() + at, 4);
  return at + 4 + spec_len + 4 + 8;
}

void reseal(std::vector<uint8_t>& rec) {
  const uint32_t crc = crc32c(rec.data(), rec.size() - 4);
  std::memcpy(rec.data() + rec.size() - 4, &crc, 4);
}

gw_status load(Layer& l, const std::vector<uint8_t>& rec, const std::string& spec) {
  try {
    load_state_record(l, rec.data(), rec.size(), spec);
    return GW_SUCCESS;
  } catch (const Error& e) {
    return e.status();
  }
}

TEST(StateRecord, ExtraFloatsRoundTripAndVersion2StillLoads) {
  const std::string spec = "powersgd:rank=2,warm=1,min_rate=2,start=0,factors=fp32,ef=1";
  Layer a;
  name(a, "w");
  a.step = 7;
  std::vector<float> values = {1, 2, 3, 4, 5, 6, 7};  // 4 residual values, then 3 extra
  a.state.assign(spec, 4, Feedback::kResidual, 3, values.data());
  std::vector<uint8_t> rec = save_state_record(a);

  Layer b;
  name(b, "w");
  ASSERT_EQ(load(b, rec, spec), GW_SUCCESS);
  EXPECT_EQ(b.step, 7u);
  EXPECT_EQ(b.state.count(), 4u);
  EXPECT_EQ(b.state.extra(), 3u);
  EXPECT_FALSE(b.state.needs_init());  // a loaded state is complete
  EXPECT_EQ(std::vector<float>(b.state.host(), b.state.host() + 7), values);

  // The same record as version 2 wrote it: no `extra` field (and so no extra floats).
  Layer c;
  name(c, "w");
  c.state.assign(spec, 4, Feedback::kResidual, 0, values.data());
  std::vector<uint8_t> v2 = save_state_record(c);
  const uint32_t two = 2;
  std::memcpy(v2.data() + 4, &two, 4);
  v2.erase(v2.begin() + static_cast<long>(vectors_at(v2) + 4), v2.begin() + static_cast<long>(vectors_at(v2) + 12));
  reseal(v2);
  Layer d;
  name(d, "w");
  ASSERT_EQ(load(d, v2, spec), GW_SUCCESS);
  EXPECT_EQ(d.state.extra(), 0u);
  EXPECT_EQ(std::vector<float>(d.state.host(), d.state.host() + 4), std::vector<float>(values.begin(), values.begin() + 4));
}

TEST(StateRecord, LyingSizesAreCorruptAndLeaveTheLayerAlone) {
  const std::string spec = "powersgd:rank=2,warm=1,min_rate=2,start=0,factors=fp32,ef=1";
  Layer a;
  name(a, "w");
  std::vector<float> values(10, 0.5f);
  a.state.assign(spec, 6, Feedback::kResidual, 4, values.data());
  const std::vector<uint8_t> rec = save_state_record(a);
  const size_t at = vectors_at(rec);
  for (uint64_t extra : {uint64_t(5), uint64_t(1) << 40, ~uint64_t(0)}) {  // more than the record holds
    std::vector<uint8_t> bad = rec;
    std::memcpy(bad.data() + at + 4, &extra, 8);
    reseal(bad);
    Layer b;
    name(b, "w");
    b.step = 3;
    EXPECT_EQ(load(b, bad, spec), GW_ERR_CORRUPT) << extra;
    EXPECT_EQ(b.step, 3u);
    EXPECT_TRUE(b.state.empty());
  }
  std::vector<uint8_t> fewer = rec;  // fewer extra floats than the bytes that follow
  const uint64_t three = 3;
  std::memcpy(fewer.data() + at + 4, &three, 8);
  reseal(fewer);
  Layer b;
  name(b, "w");
  EXPECT_EQ(load(b, fewer, spec), GW_ERR_CORRUPT);
  for (size_t cut : {size_t(1), size_t(5), rec.size() - at}) {  // cut short (and so failing its CRC)
    std::vector<uint8_t> s(rec.begin(), rec.end() - static_cast<long>(cut));
    EXPECT_EQ(load(b, s, spec), GW_ERR_CORRUPT) << cut;
  }
  EXPECT_EQ(load(b, rec, "powersgd:rank=4,warm=1,min_rate=2,start=0,factors=fp32,ef=1"), GW_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(b.state.empty());
}

}  // namespace
}  // namespace gw
