#include "compressors/topk/topk.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "src/common/error.h"
#include "src/spec/registry.h"
#include "compressors/topk/index_coding.h"

namespace gw {
namespace {
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
std::vector<uint32_t>& index_scratch() {
  thread_local std::vector<uint32_t> idx;
  return idx;
}
}  // namespace

TopkCompressor::TopkCompressor(double density, topk::Select select, bool raw_only)
    : density_(density), select_(select), raw_only_(raw_only) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", density);
  spec_ = std::string("topk:density=") + buf + ",select=" + (select == topk::Select::kExact ? "exact" : "sample") +
          (raw_only ? ",index=raw" : "");
}

CompressorTraits TopkCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = false;
  t.linear = false;
  t.needs_error_feedback = true;
  t.fixed_size = false;
  t.whole_layer = true;
  return t;
}

// Selects on v, writes the payload; idx receives the kept indices.
size_t TopkCompressor::write_payload(const float* v, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite,
                                     std::vector<uint32_t>& idx) const {
  GW_REQUIRE(n < (uint64_t(1) << 32), GW_ERR_INVALID_ARGUMENT, spec_, ": a layer of ", n,
             " values is too long (indices are 32-bit)");
  const size_t k = this->k(n);
  if (idx.size() < k) idx.resize(k);
  topk::select(v, n, k, select_, rng_key, idx.data(), nullptr);
  // The smallest index coding for this set; raw on a tie (the GPU twin's).
  topk::IndexFormat f = topk::IndexFormat::kRaw;
  size_t section = topk::raw_section_bytes(k);
  if (!raw_only_) {
    const size_t varint = topk::varint_section_bytes(idx.data(), k), bitmap = topk::bitmap_section_bytes(n);
    if (varint < section) f = topk::IndexFormat::kVarint, section = varint;
    if (bitmap < section) f = topk::IndexFormat::kBitmap, section = bitmap;
  }
  out[0] = static_cast<uint8_t>(f);
  out[1] = out[2] = out[3] = 0;
  store_u32(out + 4, static_cast<uint32_t>(k));
  store_u32(out + 8, static_cast<uint32_t>(section));
  topk::write_indices(f, idx.data(), k, n, out + kTopkHeaderBytes);
  uint8_t* vals = out + kTopkHeaderBytes + section;
  uint32_t bad = 0;
  for (size_t j = 0; j < k; ++j) {
    const float x = v[idx[j]];
    bad |= static_cast<uint32_t>(topk::magnitude_key(x) >= 0x7f800000u);
    std::memcpy(vals + 4 * j, &x, 4);
  }
  // NaN and Inf have the largest magnitudes: one in the input is among the kept.
  if (bad && nonfinite) *nonfinite = true;
  return kTopkHeaderBytes + section + 4 * k;
}

size_t TopkCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const {
  return write_payload(x, n, out, rng_key, nonfinite, index_scratch());
}

// Fused with the selection: x is built in one pass, then selected on, and the
// state update touches only the kept positions.
size_t TopkCompressor::encode_feedback(const float* g, float* s, size_t n, Feedback mode, uint8_t* out,
                                       uint64_t rng_key, bool* nonfinite) const {
  std::vector<uint32_t>& idx = index_scratch();
  const size_t k = this->k(n);
  if (mode == Feedback::kResidual) {
    for (size_t i = 0; i < n; ++i) s[i] += g[i];  // x = g + e, in place
    const size_t bytes = write_payload(s, n, out, rng_key, nonfinite, idx);
    for (size_t j = 0; j < k; ++j) s[idx[j]] = 0.0f;  // sent exactly: nothing left over
    return bytes;
  }
  if (mode == Feedback::kEf21) {
    thread_local std::vector<float> x;  // grow-only scratch: s (g_i) must survive
    if (x.size() < n) x.resize(n);
    for (size_t i = 0; i < n; ++i) x[i] = g[i] - s[i];
    const size_t bytes = write_payload(x.data(), n, out, rng_key, nonfinite, idx);
    for (size_t j = 0; j < k; ++j) s[idx[j]] += x[idx[j]];
    return bytes;
  }
  return encode(g, n, out, rng_key, nonfinite);
}

size_t TopkCompressor::payload_extent(const uint8_t* in, size_t avail, size_t n) const {
  GW_REQUIRE(avail >= kTopkHeaderBytes, GW_ERR_CORRUPT, spec_, ": ", avail, " bytes left, a payload header needs ",
             kTopkHeaderBytes);
  const uint64_t k = load_u32(in + 4), section = load_u32(in + 8);
  GW_REQUIRE(k == this->k(n), GW_ERR_CORRUPT, spec_, ": payload holds ", k, " values, ", this->k(n), " expected for ",
             n, " values");
  const uint64_t len = kTopkHeaderBytes + section + 4 * k;
  GW_REQUIRE(section <= 4 * k || section <= topk::bitmap_section_bytes(n), GW_ERR_CORRUPT, spec_,
             ": index section of ", section, " bytes for ", k, " indices");
  GW_REQUIRE(len <= avail, GW_ERR_CORRUPT, spec_, ": payload of ", len, " bytes, ", avail, " remain in the message");
  return static_cast<size_t>(len);
}

template <typename Before, typename Add>
void TopkCompressor::read_payload(const uint8_t* in, size_t bytes, size_t n, Before&& before, Add&& add) const {
  const size_t len = payload_extent(in, bytes, n);
  GW_REQUIRE(len == bytes, GW_ERR_CORRUPT, spec_, ": payload of ", bytes, " bytes, its header says ", len);
  before();
  const size_t k = load_u32(in + 4), section = load_u32(in + 8);
  const uint8_t* vals = in + kTopkHeaderBytes + section;
  topk::read_indices(static_cast<topk::IndexFormat>(in[0]), in + kTopkHeaderBytes, section, n, k, spec_.c_str(),
                     [&](size_t j, uint32_t i) {
                       float v;
                       std::memcpy(&v, vals + 4 * j, 4);
                       add(i, v);
                     });
}

void TopkCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  read_payload(in, bytes, n, [out, n] { std::memset(out, 0, n * sizeof(float)); },
               [out](uint32_t i, float v) { out[i] = v; });
}

void TopkCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  read_payload(in, bytes, n, [] {}, [acc](uint32_t i, float v) { acc[i] += v; });
}

void register_topk(Registry& r) {
  r.add("topk", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    const double density = rd.get_double("density", 0.01, 1e-9, 1.0);
    const std::string sel = rd.get_choice("select", "sample", {"exact", "sample"});
    const bool raw = rd.get_choice("index", "auto", {"auto", "raw"}) == "raw";
    return std::make_unique<TopkCompressor>(density, sel == "exact" ? topk::Select::kExact : topk::Select::kSample,
                                            raw);
  });
}

}  // namespace gw
