// Fuzz target state_record: gw_layer_load_state's parser
// (src/scheme/state_record.h: load_state_record into a Layer).
//
// Input: [u8 spec][u8 mode][record...]
//   spec: index (mod 6) into kSpecs: the layer's current spec (the canonical
//         scheme spec its calls use, as the communicator passes it)
//   mode bit 0: fix the record's trailing CRC32C up after mutation (so the
//         fuzzer reaches the fields past the checksum)
//   mode bits 1-2: the layer's current robust rule, an index into kRules
//         (none, cc, safeguard, median), on a communicator of kWorld ranks
//   mode bit 3: the communicator has excluded rank 1 already (the ranks a
//         record lists must leave a majority with it)
// A record that loads is saved again with the communicator's excluded set
// (the union): a version-5 record with zero padding whose rule section names
// the current rule, saved on kWorld ranks, loaded with nobody excluded yet,
// must come back byte for byte, and the saved record must load again.
#include <algorithm>
#include <iterator>

#include "src/common/hash.h"
#include "src/robust/peer_rule.h"
#include "src/scheme/state_record.h"
#include "src/spec/registry.h"
#include "src/wire/checksum.h"
#include "tests/common/state_record_edit.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Specs whose layers keep state: feedback vectors (ef=1, ef21) and a round
// scheme's own floats (powersgd's Q), and one without.
const char* const kSpecs[] = {"topk:density=0.1", "maxmin:bits=4,ef=1", "qsgd:bits=4,ef=ef21",
                              "powersgd:rank=2",  "powersgd:rank=2,ef=1", "none"};
constexpr size_t kNumSpecs = sizeof(kSpecs) / sizeof(kSpecs[0]);
// Rules whose state is kept (cc's center, safeguard's windows), one without, and none.
const char* const kRules[] = {"none", "cc", "safeguard:long=8,short=3", "median"};
constexpr int kWorld = 3;

const gw::PeerRule* rule_of(size_t i) {
  static const std::vector<std::shared_ptr<const gw::PeerRule>> rules = [] {
    std::vector<std::shared_ptr<const gw::PeerRule>> v;
    for (const char* r : kRules) v.push_back(gw::make_peer_rule(r));
    return v;
  }();
  return rules[i % 4].get();
}
const char* const kLayer = "fc.weight";

const std::string& canonical(size_t i) {
  static const std::vector<std::string> specs = [] {
    std::vector<std::string> v;
    for (const char* s : kSpecs) v.push_back(gw::make_scheme(s)->spec);
    return v;
  }();
  return specs[i % kNumSpecs];
}

// Bit for bit (NaN included, which == would call different).
bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void fresh(gw::Layer& l) {
  l.name = kLayer;
  l.name_hash = gw::fnv1a64(l.name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gw_fuzz::Bytes b(data, size);
  const std::string& spec = canonical(b.take<uint8_t>());
  const uint8_t mode = b.take<uint8_t>();
  const gw::PeerRule* rule = rule_of(static_cast<size_t>(mode >> 1) & 3);
  const std::vector<int> excluded_now = (mode & 8) ? std::vector<int>{1} : std::vector<int>();
  const auto copy = gw_fuzz::exact_copy(b.rest(), b.left(), b.left());
  gw_fuzz::Exact<uint8_t>& rec = *copy;
  if ((mode & 1) && rec.size() >= 4) {
    const uint32_t crc = gw::crc32c(rec.data(), rec.size() - 4);
    std::memcpy(rec.data() + rec.size() - 4, &crc, 4);
  }
  gw::Layer layer;
  fresh(layer);
  bool loaded = false;
  std::vector<int> listed;
  gw_fuzz::expect_ok_or_error([&] {
    listed = gw::load_state_record(layer, rec.data(), rec.size(), spec, rule, kWorld, excluded_now);
    loaded = true;
  });
  if (!loaded) return 0;
  // What the communicator would hold now: the union, which keeps a majority.
  gw::ExcludedRanks excluded;
  excluded.world = kWorld;
  std::set_union(excluded_now.begin(), excluded_now.end(), listed.begin(), listed.end(),
                 std::back_inserter(excluded.ranks));
  GW_FUZZ_CHECK(gw::keeps_majority(kWorld - excluded.ranks.size(), kWorld));
  const std::vector<uint8_t> again = gw::save_state_record(layer, rule, excluded);
  uint32_t version = 0;
  std::memcpy(&version, rec.data() + 4, 4);
  if (version == gw::kStateVersion) {
    // The three padding bytes follow the spec; the loader ignores them. A
    // rule section under another rule's name (one that kept no state) loads
    // as fresh state, saved under the current rule's name; a record saved on
    // another number of ranks (with nobody excluded) is saved as this one's.
    const std::vector<uint8_t> bytes(rec.data(), rec.data() + rec.size());  // it loaded: its offsets hold
    const size_t pad = gw_record::vectors_at(bytes) - 8 - 3;
    const size_t rule_at = gw_record::rule_at(bytes);
    const uint32_t rule_len = gw_record::field_at<uint32_t>(bytes, rule_at);
    const std::string saved_rule(reinterpret_cast<const char*>(rec.data()) + rule_at + 4, rule_len);
    const std::string current_rule = rule ? rule->name() : std::string();
    const uint32_t saved_world = gw_record::field_at<uint32_t>(bytes, gw_record::excluded_at(bytes));
    if (rec[pad] == 0 && rec[pad + 1] == 0 && rec[pad + 2] == 0 && saved_rule == current_rule &&
        excluded_now.empty() && (!rule || saved_world == kWorld))
      GW_FUZZ_CHECK(again.size() == rec.size() && std::memcmp(again.data(), rec.data(), rec.size()) == 0);
  }
  gw::Layer other;
  fresh(other);
  const std::vector<int> relisted =
      gw::load_state_record(other, again.data(), again.size(), spec, rule, kWorld, excluded.ranks);  // must not throw
  GW_FUZZ_CHECK(relisted == (rule ? excluded.ranks : std::vector<int>()));
  GW_FUZZ_CHECK(other.step == layer.step && other.state.floats() == layer.state.floats());
  GW_FUZZ_CHECK(other.rule_state.calls == layer.rule_state.calls &&
                same_bytes(other.rule_state.center, layer.rule_state.center) &&
                same_bytes(other.rule_state.windows, layer.rule_state.windows));
  return 0;
}

// Seeds: records save_state_record wrote for each spec (state of a few
// counts, a version-2 record, an empty one), and some cut short.
void gw_fuzz_make_seeds(const std::string& dir) {
  for (size_t s = 0; s < kNumSpecs; ++s) {
    const auto scheme = gw::make_scheme(kSpecs[s]);
    const bool rounds = scheme->codec->round_codec() != nullptr;
    for (size_t count : {size_t(0), size_t(3), size_t(40)}) {
      if (count == 0 && s > 0) continue;
      gw::Layer l;
      fresh(l);
      l.step = 12 + count;
      l.stats.calls = 12;
      l.stats.bytes_sent = 4096;
      l.stats.encode_s = 0.25;
      const size_t extra = rounds ? 2 * 8 : 0;  // powersgd: Q of 8 columns, rank 2
      if (count || extra) {
        const size_t floats = gw::LayerState::vectors_of(scheme->feedback) * count + extra;
        std::vector<float> v(floats);
        for (size_t i = 0; i < floats; ++i) v[i] = 0.01f * static_cast<float>(i) - 0.1f;
        l.state.assign(scheme->spec, count, scheme->feedback, extra, v.data());
      }
      const std::vector<uint8_t> rec = gw::save_state_record(l, nullptr);
      std::vector<uint8_t> seed = {static_cast<uint8_t>(s), 0};
      seed.insert(seed.end(), rec.begin(), rec.end());
      const std::string name = scheme->spec + "-count" + std::to_string(count);
      gw_fuzz::write_seed(dir, name, seed);
      if (count == 3) {
        std::vector<uint8_t> cut(seed.begin(), seed.begin() + 2 + rec.size() / 2);
        cut[1] = 1;  // with its CRC fixed up: cut inside the fields, not just the checksum
        gw_fuzz::write_seed(dir, name + "-cut", cut);
      }
    }
  }
  // Rule state: cc's center and safeguard's windows (kWorld ranks), a
  // median's call count, each saved under its rule (mode bits 1-2) on kWorld
  // ranks, with the scheme state of maxmin ef=1; the cc record as version 3
  // wrote it (no rule section), the safeguard record as version 4 wrote it
  // (no excluded set), and with rank 2 excluded, alone and with rank 1
  // excluded already (mode bit 3: no majority left).
  for (size_t k = 1; k < 4; ++k) {
    const auto scheme = gw::make_scheme(kSpecs[1]);
    const gw::PeerRule* rule = rule_of(k);
    gw::Layer l;
    fresh(l);
    l.step = 9;
    const size_t count = 5;
    std::vector<float> v(count, 0.25f);
    l.state.assign(scheme->spec, count, scheme->feedback, 0, v.data());
    gw::RuleState& rs = l.rule_state;
    rs.calls = 9;
    if (k == 1) {
      rs.count = count;
      for (size_t i = 0; i < count; ++i) rs.center.push_back(0.5f - 0.1f * static_cast<float>(i));
    } else if (k == 2) {
      rs.count = count;
      rs.long_steps = 4;
      rs.short_steps = 1;
      for (size_t i = 0; i < 2 * kWorld * count; ++i) rs.windows.push_back(0.03f * static_cast<float>(i) - 0.2f);
    }
    gw::ExcludedRanks excluded;
    excluded.world = kWorld;
    const std::vector<uint8_t> rec = gw::save_state_record(l, rule, excluded);
    auto write = [&](const std::string& name, const std::vector<uint8_t>& r, uint8_t more_mode) {
      std::vector<uint8_t> seed = {1, static_cast<uint8_t>((k << 1) | more_mode)};
      seed.insert(seed.end(), r.begin(), r.end());
      gw_fuzz::write_seed(dir, name, seed);
    };
    write(std::string("rule-") + (k == 1 ? "cc" : k == 2 ? "safeguard" : "median") + "-count5", rec, 0);
    if (k == 1) write("version3-ef1-count5-cc", gw_record::as_version(rec, 3), 0);
    if (k == 2) {
      write("version4-ef1-count5-safeguard", gw_record::as_version(rec, 4), 0);
      excluded.ranks = {2};
      const std::vector<uint8_t> ex = gw::save_state_record(l, rule, excluded);
      write("rule-safeguard-count5-excluded2", ex, 0);
      write("rule-safeguard-count5-excluded2-and1", ex, 8);
    }
  }
  // Version 2: no `extra` field.
  {
    std::vector<uint8_t> rec;
    gw_fuzz::put(rec, gw::kStateMagic);
    gw_fuzz::put(rec, uint32_t(2));
    gw_fuzz::put(rec, gw::fnv1a64(std::string(kLayer)));
    for (int i = 0; i < 1 + 6; ++i) gw_fuzz::put(rec, uint64_t(i));
    for (int i = 0; i < 4; ++i) gw_fuzz::put(rec, 0.5 * i);
    const std::string& spec = canonical(1);
    gw_fuzz::put(rec, static_cast<uint32_t>(spec.size()));
    rec.insert(rec.end(), spec.begin(), spec.end());
    gw_fuzz::put(rec, uint32_t(1));  // ef=1, three zero bytes
    gw_fuzz::put(rec, uint64_t(2));
    gw_fuzz::put(rec, uint32_t(1));
    gw_fuzz::put(rec, 1.5f);
    gw_fuzz::put(rec, -2.5f);
    gw_fuzz::put(rec, gw::crc32c(rec.data(), rec.size()));
    std::vector<uint8_t> seed = {1, 0};
    seed.insert(seed.end(), rec.begin(), rec.end());
    gw_fuzz::write_seed(dir, "version2-ef1-count2", seed);
  }
}
