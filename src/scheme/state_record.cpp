#include "src/scheme/state_record.h"

#include <cstring>

#include "src/common/error.h"
#include "src/wire/checksum.h"

namespace gw {
namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts (see none.h)
    out.insert(out.end(), b, b + sizeof(T));
  }
  void bytes(const void* p, size_t n) { out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& layer) : p_(p), n_(n), layer_(layer) {}
  template <typename T>
  T get(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  const uint8_t* take(size_t n, const char* field) {
    need(n, field);
    const uint8_t* p = p_ + at_;
    at_ += n;
    return p;
  }
  size_t at() const { return at_; }
  size_t left() const { return n_ - at_; }

 private:
  void need(size_t n, const char* field) {
    GW_REQUIRE(n <= n_ - at_, GW_ERR_CORRUPT, "state for layer '", layer_, "' is cut short at its ", field, " (",
               n_, " bytes)");
  }
  const uint8_t* p_;
  size_t n_, at_ = 0;
  const std::string& layer_;
};

}  // namespace

std::vector<uint8_t> save_state_record(Layer& l) {
  Writer w;
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
  w.put(crc32c(w.out.data(), w.out.size()));
  return std::move(w.out);
}

void load_state_record(Layer& l, const uint8_t* buf, size_t size, const std::string& current_spec) {
  const std::string& name = l.name;
  Reader r(buf, size, name);
  GW_REQUIRE(r.get<uint32_t>("magic") == kStateMagic, GW_ERR_CORRUPT, "state for layer '", name,
             "' is not a gradwire layer state");
  const uint32_t version = r.get<uint32_t>("version");
  GW_REQUIRE(version == kStateVersion || version == 2, GW_ERR_INVALID_ARGUMENT, "state for layer '", name,
             "': field version is ", version, ", this library reads 2 and ", kStateVersion);
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
  GW_REQUIRE(r.left() == 4, GW_ERR_CORRUPT, "state for layer '", name, "' has ", r.left() - 4,
             " bytes after its last field");
  GW_REQUIRE(floats == 0 || spec == current_spec, GW_ERR_INVALID_ARGUMENT, "state for layer '", name,
             "': field spec is '", clip_text(spec), "', the layer's calls now use '", clip_text(current_spec), "'");
  std::vector<float> values(floats);
  if (floats) std::memcpy(values.data(), data, floats * sizeof(float));
  l.step = step;
  l.stats = s;
  l.state.assign(spec, static_cast<size_t>(count), fb, static_cast<size_t>(extra), values.data());
}

}  // namespace gw
