#include "src/scheme/state_record.h"

#include <cstring>
#include <limits>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/scheme/excluded_section.h"
#include "src/scheme/record_io.h"
#include "src/wire/checksum.h"

namespace gw {
std::vector<uint8_t> save_state_record(Layer& l, const PeerRule* rule, const ExcludedRanks& excluded) {
  RecordWriter w;
  w.put(kStateMagic);
  w.put(kStateVersion);
  w.put(l.name_hash);
  w.put(l.step);
  const LayerStats& s = l.stats;
  for (uint64_t v : {s.calls, s.elements, s.bytes_input, s.bytes_sent, s.bytes_received, s.state_resets}) w.put(v);
  for (double v : {s.encode_s, s.decode_s, s.comm_s, s.total_s}) w.put(v);
  LayerState& st = l.state;
  w.put(static_cast<uint32_t>(st.spec().size()));
  w.bytes(st.spec().data(), st.spec().size());
  w.put(static_cast<uint8_t>(st.mode()));
  for (int i = 0; i < 3; ++i) w.put(uint8_t(0));
  w.put(static_cast<uint64_t>(st.count()));
  w.put(static_cast<uint32_t>(st.vectors()));
  w.put(static_cast<uint64_t>(st.extra()));
  if (!st.empty()) w.bytes(st.host(), st.bytes());
  // The rule section: the layer's rule state under the rule's name (zeros without a rule).
  static const RuleState kNone;
  const RuleState& rs = rule ? l.rule_state : kNone;
  const std::string rule_name = rule ? rule->name() : std::string();
  w.put(static_cast<uint32_t>(rule_name.size()));
  w.bytes(rule_name.data(), rule_name.size());
  for (uint64_t v : {static_cast<uint64_t>(rs.count), rs.calls, rs.long_steps, rs.short_steps,
                     static_cast<uint64_t>(rs.center.size()), static_cast<uint64_t>(rs.windows.size())})
    w.put(v);
  w.bytes(rs.center.data(), rs.center.size() * sizeof(float));
  w.bytes(rs.windows.data(), rs.windows.size() * sizeof(float));
  static const ExcludedRanks kNoRanks;
  write_excluded_section(w, rule ? excluded : kNoRanks);
  w.put(crc32c(w.out.data(), w.out.size()));
  return std::move(w.out);
}

std::vector<int> load_state_record(Layer& l, const uint8_t* buf, size_t size, const std::string& current_spec,
                                   const PeerRule* current_rule, int world, const std::vector<int>& excluded_now) {
  const std::string& name = l.name;
  RecordReader r(buf, size, name);
  GW_REQUIRE(r.get<uint32_t>("magic") == kStateMagic, GW_ERR_CORRUPT, "state for layer '", name,
             "' is not a gradwire layer state");
  const uint32_t version = r.get<uint32_t>("version");
  GW_REQUIRE(version >= 2 && version <= kStateVersion, GW_ERR_INVALID_ARGUMENT, "state for layer '", name,
             "': field version is ", version, ", this library reads 2 to ", kStateVersion);
  GW_REQUIRE(size >= 4, GW_ERR_CORRUPT, "state for layer '", name, "' is cut short");
  uint32_t crc;
  std::memcpy(&crc, buf + size - 4, 4);
  GW_REQUIRE(crc == crc32c(buf, size - 4), GW_ERR_CORRUPT, "state for layer '", name,
             "' is damaged (checksum mismatch)");
  GW_REQUIRE(r.get<uint64_t>("layer hash") == l.name_hash, GW_ERR_CORRUPT, "state given to layer '", name,
             "' was saved from another layer");
  const uint64_t step = r.get<uint64_t>("step");
  LayerStats s;
  for (uint64_t* v : {&s.calls, &s.elements, &s.bytes_input, &s.bytes_sent, &s.bytes_received, &s.state_resets})
    *v = r.get<uint64_t>("statistics");
  for (double* v : {&s.encode_s, &s.decode_s, &s.comm_s, &s.total_s}) *v = r.get<double>("statistics");
  const uint32_t spec_len = r.get<uint32_t>("spec length");
  const uint8_t* spec_bytes = r.take(spec_len, "spec");
  const std::string spec(reinterpret_cast<const char*>(spec_bytes), spec_len);
  const uint8_t mode = r.get<uint8_t>("feedback mode");
  r.take(3, "padding");
  const uint64_t count = r.get<uint64_t>("count");
  const uint32_t vectors = r.get<uint32_t>("vectors");
  const uint64_t extra = version >= 3 ? r.get<uint64_t>("extra") : 0;
  GW_REQUIRE(mode <= static_cast<uint8_t>(Feedback::kEf21), GW_ERR_CORRUPT, "state for layer '", name,
             "': unknown feedback mode ", int(mode));
  const Feedback fb = static_cast<Feedback>(mode);
  GW_REQUIRE(vectors == LayerState::vectors_of(fb), GW_ERR_CORRUPT, "state for layer '", name, "': ", vectors,
             " vectors for feedback mode ", int(mode));
  GW_REQUIRE(r.left() >= 4, GW_ERR_CORRUPT, "state for layer '", name, "' is cut short before its checksum");
  const uint64_t room = (r.left() - 4) / sizeof(float);  // the CRC follows
  GW_REQUIRE((vectors == 0 || count <= room / vectors) && extra <= room - (vectors ? vectors * count : 0),
             GW_ERR_CORRUPT, "state for layer '", name, "': ", count, " values and ", extra,
             " more do not fit in the record");
  const size_t floats = static_cast<size_t>(vectors) * static_cast<size_t>(count) + static_cast<size_t>(extra);
  const uint8_t* data = r.take(floats * sizeof(float), "state vectors");
  // The rule section (version 4): absent, the rule state starts fresh.
  RuleState rs;
  std::string rule_name;
  ExcludedRanks excluded;  // version 5; before it, the communicator's set is left as it is
  if (version >= 4) {
    const uint32_t rule_len = r.get<uint32_t>("rule length");
    const uint8_t* rule_bytes = r.take(rule_len, "rule");
    rule_name.assign(reinterpret_cast<const char*>(rule_bytes), rule_len);
    const uint64_t rule_count = r.get<uint64_t>("rule count");
    rs.calls = r.get<uint64_t>("rule calls");
    rs.long_steps = r.get<uint64_t>("long steps");
    rs.short_steps = r.get<uint64_t>("short steps");
    const uint64_t centers = r.get<uint64_t>("center floats");
    const uint64_t windows = r.get<uint64_t>("window floats");
    GW_REQUIRE(r.left() >= 4, GW_ERR_CORRUPT, "state for layer '", name, "' is cut short before its checksum");
    const uint64_t rule_room = (r.left() - 4) / sizeof(float);
    GW_REQUIRE(centers <= rule_room && windows <= rule_room - centers, GW_ERR_CORRUPT, "state for layer '", name,
               "': ", centers, " center and ", windows, " window floats of its rule do not fit in the record");
    GW_REQUIRE(rule_count <= std::numeric_limits<size_t>::max() / 2, GW_ERR_CORRUPT, "state for layer '", name,
               "': rule count ", rule_count);
    rs.count = static_cast<size_t>(rule_count);
    rs.center.resize(static_cast<size_t>(centers));
    rs.windows.resize(static_cast<size_t>(windows));
    if (centers)
      std::memcpy(rs.center.data(), r.take(rs.center.size() * sizeof(float), "rule center"),
                  rs.center.size() * sizeof(float));
    if (windows)
      std::memcpy(rs.windows.data(), r.take(rs.windows.size() * sizeof(float), "rule windows"),
                  rs.windows.size() * sizeof(float));
    if (version >= 5) excluded = read_excluded_section(r);
    GW_REQUIRE(!rule_name.empty() || (rs.count == 0 && rs.calls == 0 && rs.long_steps == 0 && rs.short_steps == 0 &&
                                      centers == 0 && windows == 0 && excluded.world == 0),
               GW_ERR_CORRUPT, "state for layer '", name, "': rule state without a rule");
  }
  GW_REQUIRE(r.left() == 4, GW_ERR_CORRUPT, "state for layer '", name, "' has ", r.left() - 4,
             " bytes after its last field");
  GW_REQUIRE(floats == 0 || spec == current_spec, GW_ERR_INVALID_ARGUMENT, "state for layer '", name,
             "': field spec is '", clip_text(spec), "', the layer's calls now use '", clip_text(current_spec), "'");
  // Rule state: only for the rule the layer's calls use now, and only as that
  // rule keeps it. A rule that keeps none (the coordinate-wise rules, Krum,
  // the geometric median) saved only its call count: under another rule now,
  // the state starts fresh.
  const std::string current_name = current_rule ? current_rule->name() : std::string();
  const bool holds = !rs.center.empty() || !rs.windows.empty() || rs.long_steps || rs.short_steps;
  if (rule_name != current_name) {
    GW_REQUIRE(!holds, GW_ERR_INVALID_ARGUMENT, "state for layer '", name, "': field robust is '",
               clip_text(rule_name), "', the layer's calls now use '",
               current_name.empty() ? std::string("none") : clip_text(current_name), "'");
    if (!rule_name.empty())
      GW_LOG(INFO, "state for layer '", name, "': saved under robust=", clip_text(rule_name),
             ", which kept no state; the layer's calls now use ",
             current_name.empty() ? std::string("none") : current_name, ", whose state starts fresh");
    rs = RuleState();
  } else if (current_rule) {
    if (!rs.windows.empty() && rs.count && rs.windows.size() % (2 * rs.count) == 0)
      GW_REQUIRE(rs.windows.size() / (2 * rs.count) == static_cast<size_t>(world), GW_ERR_INVALID_ARGUMENT,
                 "state for layer '", name, "': robust=", current_name, " state was saved on ",
                 rs.windows.size() / (2 * rs.count), " ranks, this communicator has ", world);
    const std::string why = current_rule->check_state(rs, world);
    GW_REQUIRE(why.empty(), GW_ERR_CORRUPT, "state for layer '", name, "': ", why);
  }
  // The excluded set is the communicator's: it applies under whatever rule the
  // layer's calls use now (the ranks it names were found Byzantine either way).
  check_excluded_fit(excluded, world, excluded_now, name);
  std::vector<float> values(floats);
  if (floats) std::memcpy(values.data(), data, floats * sizeof(float));
  l.step = step;
  l.stats = s;
  l.state.assign(spec, static_cast<size_t>(count), fb, static_cast<size_t>(extra), values.data());
  l.rule_state = std::move(rs);
  return std::move(excluded.ranks);
}

}  // namespace gw
