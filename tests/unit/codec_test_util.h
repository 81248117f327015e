// Helpers shared by the codec unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "src/common/cpu_features.h"
#include "src/common/error.h"
#include "src/core/compressor.h"

namespace gw {
namespace test {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// n normal(mean, sigma) floats from seed.
inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// Every CPU codec path this machine can run (scalar first: the reference).
// Every spec in `bad` is refused with GW_ERR_INVALID_ARGUMENT by make_scheme.
template <typename MakeScheme>
void expect_specs_refused(std::initializer_list<const char*> bad, MakeScheme&& make) {
  for (const char* spec : bad) {
    try {
      make(spec);
      ADD_FAILURE() << "accepted " << spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT) << spec;
    }
  }
}

inline std::vector<CpuIsa> runnable_isas() {
  std::vector<CpuIsa> v;
  for (CpuIsa isa : {CpuIsa::SCALAR, CpuIsa::AVX2, CpuIsa::AVX512})
    if (cpu_isa_supported(isa)) v.push_back(isa);
  return v;
}

// Forces one path for the lifetime of the guard.
class IsaGuard {
 public:
  explicit IsaGuard(CpuIsa isa) { set_cpu_isa_for_testing(isa); }
  ~IsaGuard() { reset_cpu_isa_for_testing(); }
  IsaGuard(const IsaGuard&) = delete;
  IsaGuard& operator=(const IsaGuard&) = delete;
};

inline uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Bitwise equality of float arrays (NaN == NaN when the bits agree).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || memcmp(a.data(), b.data(), 4 * a.size()) == 0);
}

struct Encoded {
  std::vector<uint8_t> bytes;
  bool nonfinite = false;
};

// c.encode of x, checking the size written and 16 guard bytes after the payload.
inline Encoded encode(const Compressor& c, const std::vector<float>& x, uint64_t key) {
  Encoded e;
  const size_t cap = c.encoded_bytes(x.size());
  e.bytes.assign(cap + 16, 0xee);  // guard bytes after the payload
  const size_t got = c.encode(x.data(), x.size(), e.bytes.data(), key, &e.nonfinite);
  EXPECT_EQ(got, cap);
  for (size_t i = cap; i < cap + 16; ++i) EXPECT_EQ(e.bytes[i], 0xee) << "wrote past encoded_bytes";
  e.bytes.resize(cap);
  return e;
}

// c.decode of e into n floats, checking 4 guard floats after them.
inline std::vector<float> decode(const Compressor& c, const Encoded& e, size_t n) {
  std::vector<float> out(n + 4, 12345.0f);
  c.decode(e.bytes.data(), e.bytes.size(), n, out.data());
  for (size_t i = n; i < n + 4; ++i) EXPECT_EQ(out[i], 12345.0f) << "wrote past n";
  out.resize(n);
  return out;
}

// The status f throws (GW_SUCCESS when none), and its message in *what.
inline gw_status status_of(const std::function<void()>& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (what) *what = e.what();
    return e.status();
  }
  return GW_SUCCESS;
}

// Payloads one byte too long or too short, and the right bytes for a count
// whose size differs, are GW_ERR_CORRUPT in decode and decode_add, for n = 0, 1,
// 1000. Returns the message of the too-long rejection for each n (for checks on
// its wording).
inline std::vector<std::string> expect_wrong_byte_counts_corrupt(const Compressor& c) {
  std::vector<std::string> messages;
  for (size_t n : {size_t(0), size_t(1), size_t(1000)}) {
    std::vector<float> x = gaussian(n, 3);
    Encoded e = encode(c, x, 1);
    std::vector<uint8_t> big = e.bytes;
    big.push_back(0);
    std::vector<float> out(n + 1), acc(n + 1);
    std::string what;
    EXPECT_EQ(status_of([&] { c.decode(big.data(), big.size(), n, out.data()); }, &what), GW_ERR_CORRUPT);
    messages.push_back(what);
    EXPECT_EQ(status_of([&] { c.decode_add(big.data(), big.size(), n, acc.data()); }), GW_ERR_CORRUPT);
    if (!e.bytes.empty()) {
      EXPECT_EQ(status_of([&] { c.decode(e.bytes.data(), e.bytes.size() - 1, n, out.data()); }), GW_ERR_CORRUPT);
      EXPECT_EQ(status_of([&] { c.decode_add(e.bytes.data(), e.bytes.size() - 1, n, acc.data()); }),
                GW_ERR_CORRUPT);
    }
    // Right bytes, wrong count (where the count changes the size: partial bytes
    // can make n and n + 1 the same size).
    if (c.encoded_bytes(n + 1) != e.bytes.size()) {
      EXPECT_EQ(status_of([&] { c.decode(e.bytes.data(), e.bytes.size(), n + 1, out.data()); }), GW_ERR_CORRUPT);
    }
  }
  return messages;
}

// Every SIMD path gives the scalar reference's payload, decode and decode_add
// (onto acc0) bits for x and key, and decodes a random (untrusted) payload drawn
// from junk_seed the same. Call through ASSERT_NO_FATAL_FAILURE.
inline void expect_every_path_matches_scalar(const Compressor& c, const std::vector<float>& x, uint64_t key,
                                             const std::vector<float>& acc0, uint32_t junk_seed) {
  const size_t n = x.size();
  Encoded ref;
  std::vector<float> ref_dec, ref_acc;
  for (CpuIsa isa : runnable_isas()) {
    IsaGuard guard(isa);
    Encoded e = encode(c, x, key);
    std::vector<float> y = decode(c, e, n);
    std::vector<float> acc = acc0;
    c.decode_add(e.bytes.data(), e.bytes.size(), n, acc.data());
    if (isa == CpuIsa::SCALAR) {
      ref = e;
      ref_dec = y;
      ref_acc = acc;
      continue;
    }
    ASSERT_EQ(e.bytes, ref.bytes) << cpu_isa_name(isa);
    ASSERT_TRUE(same_bits(y, ref_dec)) << cpu_isa_name(isa);
    ASSERT_TRUE(same_bits(acc, ref_acc)) << cpu_isa_name(isa);
    // Decoding a random (untrusted) payload is path-independent too.
    std::vector<uint8_t> junk(e.bytes.size());
    std::mt19937 g(junk_seed);
    for (auto& b : junk) b = static_cast<uint8_t>(g());
    std::vector<float> j1(n), j2(n);
    c.decode(junk.data(), junk.size(), n, j1.data());
    {
      IsaGuard scalar(CpuIsa::SCALAR);
      c.decode(junk.data(), junk.size(), n, j2.data());
    }
    ASSERT_TRUE(same_bits(j1, j2)) << cpu_isa_name(isa);
  }
}

}  // namespace test
}  // namespace gw
