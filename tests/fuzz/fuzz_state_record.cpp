// Fuzz target state_record: gw_layer_load_state's parser
// (src/scheme/state_record.h: load_state_record into a Layer).
//
// Input: [u8 spec][u8 mode][record...]
//   spec: index (mod 6) into kSpecs: the layer's current spec (the canonical
//         scheme spec its calls use, as the communicator passes it)
//   mode bit 0: fix the record's trailing CRC32C up after mutation (so the
//         fuzzer reaches the fields past the checksum)
// A record that loads is saved again: a version-3 record with zero padding
// must come back byte for byte, and the saved record must load again.
#include "src/common/hash.h"
#include "src/scheme/state_record.h"
#include "src/spec/registry.h"
#include "src/wire/checksum.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Specs whose layers keep state: feedback vectors (ef=1, ef21) and a round
// scheme's own floats (powersgd's Q), and one without.
const char* const kSpecs[] = {"topk:density=0.1", "maxmin:bits=4,ef=1", "qsgd:bits=4,ef=ef21",
                              "powersgd:rank=2",  "powersgd:rank=2,ef=1", "none"};
constexpr size_t kNumSpecs = sizeof(kSpecs) / sizeof(kSpecs[0]);
const char* const kLayer = "fc.weight";

const std::string& canonical(size_t i) {
  static const std::vector<std::string> specs = [] {
    std::vector<std::string> v;
    for (const char* s : kSpecs) v.push_back(gw::make_scheme(s)->spec);
    return v;
  }();
  return specs[i % kNumSpecs];
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
  const auto copy = gw_fuzz::exact_copy(b.rest(), b.left(), b.left());
  gw_fuzz::Exact<uint8_t>& rec = *copy;
  if ((mode & 1) && rec.size() >= 4) {
    const uint32_t crc = gw::crc32c(rec.data(), rec.size() - 4);
    std::memcpy(rec.data() + rec.size() - 4, &crc, 4);
  }
  gw::Layer layer;
  fresh(layer);
  bool loaded = false;
  gw_fuzz::expect_ok_or_error([&] {
    gw::load_state_record(layer, rec.data(), rec.size(), spec);
    loaded = true;
  });
  if (!loaded) return 0;
  const std::vector<uint8_t> again = gw::save_state_record(layer);
  uint32_t version = 0;
  std::memcpy(&version, rec.data() + 4, 4);
  if (version == gw::kStateVersion) {
    // The three padding bytes follow the spec; the loader ignores them.
    uint32_t spec_len = 0;
    std::memcpy(&spec_len, rec.data() + 8 + 8 + 8 + 6 * 8 + 4 * 8, 4);
    const size_t pad = 8 + 8 + 8 + 6 * 8 + 4 * 8 + 4 + spec_len + 1;
    if (rec[pad] == 0 && rec[pad + 1] == 0 && rec[pad + 2] == 0)
      GW_FUZZ_CHECK(again.size() == rec.size() && std::memcmp(again.data(), rec.data(), rec.size()) == 0);
  }
  gw::Layer other;
  fresh(other);
  gw::load_state_record(other, again.data(), again.size(), spec);  // must not throw
  GW_FUZZ_CHECK(other.step == layer.step && other.state.floats() == layer.state.floats());
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
      const std::vector<uint8_t> rec = gw::save_state_record(l);
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
