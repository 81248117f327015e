// fp16 / bf16 conversions: IEEE rounding checked at every rounding boundary,
// every half / bf16 bit pattern, and every SIMD path against the scalar one.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/unit/codec_test_util.h"
#include "src/common/half.h"

namespace gw {
namespace {

using test::bits_of;
using test::float_of;

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65519.99f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // tie, rounds to even = Inf
  EXPECT_EQ(float_to_half_bits(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(float_to_half_bits(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);      // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);      // tie -> even (0)
  EXPECT_EQ(float_to_half_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.5f, -24)), 0x0002);      // tie -> even (2)
  EXPECT_EQ(float_to_half_bits(std::ldexp(2.5f, -24)), 0x0002);      // tie -> even (2)
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14)), 0x0400);      // smallest normal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1023.5f, -24)), 0x0400);   // tie -> even, carries into normal
  EXPECT_EQ(float_to_half_bits(1e-30f), 0x0000);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  uint16_t qnan = float_to_half_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(qnan & 0x7c00, 0x7c00);
  EXPECT_NE(qnan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in the low bits stays a NaN (quieted).
  EXPECT_EQ(float_to_half_bits(float_of(0x7f800001u)), 0x7e00);
  EXPECT_EQ(float_to_half_bits(float_of(0xff800001u)), 0xfe00);
  EXPECT_EQ(half_bits_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(bits_of(half_bits_to_float(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(half_bits_to_float(0x7c00)));
  EXPECT_EQ(bits_of(half_bits_to_float(0x7d00)), 0x7fe00000u);  // sNaN comes back quiet
}

// Every half pattern: half -> float is exact and float -> half gives it back.
TEST(Half, AllPatternsRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = half_bits_to_float(static_cast<uint16_t>(h));
    uint16_t back = float_to_half_bits(f);
    bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_EQ(back, h | 0x200) << h;  // quieted, payload kept
    } else {
      ASSERT_EQ(back, h) << h;
      // the value: sign * 2^(e-15) * (1 + m/1024) (normal), sign * 2^-24 * m (subnormal)
      int e = (h >> 10) & 31, m = h & 1023;
      double ref = e == 31 ? HUGE_VAL : e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
      if (h & 0x8000) ref = -ref;
      ASSERT_EQ(static_cast<double>(f), ref) << h;
    }
  }
}

// Round to nearest even at every boundary between consecutive positive halves.
TEST(Half, RoundingBoundaries) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    float lo = half_bits_to_float(static_cast<uint16_t>(h));
    float hi = h + 1 == 0x7c00 ? 65536.0f : half_bits_to_float(static_cast<uint16_t>(h + 1));
    float mid = 0.5f * (lo + hi);  // exact: halves have 11 significant bits
    ASSERT_EQ(static_cast<double>(mid), 0.5 * (static_cast<double>(lo) + hi));
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    ASSERT_EQ(float_to_half_bits(mid), even) << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 1e30f)), h + 1) << h;
    ASSERT_EQ(float_to_half_bits(-std::nextafter(mid, 1e30f)), (h + 1) | 0x8000) << h;
  }
}

TEST(Bf16, KnownValuesAndAllPatterns) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to Inf
  EXPECT_EQ(float_to_bf16_bits(float_of(0x7f800001u)), 0x7fc0);             // NaN stays NaN, quiet
  EXPECT_EQ(float_to_bf16_bits(float_of(0xffff0000u)), 0xffff);             // never rounds NaN to Inf/0
  EXPECT_EQ(float_to_bf16_bits(float_of(0x7fffffffu)), 0x7fff);
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = bf16_bits_to_float(static_cast<uint16_t>(b));
    ASSERT_EQ(bits_of(f), b << 16);
    bool is_nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f);
    ASSERT_EQ(float_to_bf16_bits(f), is_nan ? (b | 0x40) : b) << b;
    if ((b & 0x7fff) < 0x7f80) {  // finite: the boundary to the next pattern up in magnitude
      uint32_t mid = (b << 16) + 0x8000u;
      uint16_t even = (b & 1) ? static_cast<uint16_t>(b + 1) : static_cast<uint16_t>(b);
      ASSERT_EQ(float_to_bf16_bits(float_of(mid)), even) << b;
      ASSERT_EQ(float_to_bf16_bits(float_of(mid - 1)), b) << b;
      ASSERT_EQ(float_to_bf16_bits(float_of(mid + 1)), b + 1) << b;
    }
  }
}

// Float inputs covering every exponent, rounding boundaries and specials.
std::vector<float> conversion_inputs() {
  std::vector<float> v;
  std::mt19937 gen(12345);
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t e = 0; e < 256; ++e)
      for (int k = 0; k < 600; ++k) {
        uint32_t m = gen() & 0x7fffffu;
        if (k % 3 == 0) m = (m & ~0x1fffu) | 0x1000u;   // fp16 ties
        if (k % 3 == 1) m = (m & ~0xffffu) | 0x8000u;   // bf16 ties
        v.push_back(float_of((sign << 31) | (e << 23) | m));
      }
  for (uint32_t h = 0; h < 65536; ++h) v.push_back(half_bits_to_float(static_cast<uint16_t>(h)));
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(float_of(0x7f800001u));
  return v;
}

TEST(HalfArrays, EveryPathMatchesScalar) {
  std::vector<float> in = conversion_inputs();
  for (size_t n : {in.size(), size_t(0), size_t(1), size_t(7), size_t(31), size_t(33), in.size() - 5}) {
    std::vector<uint16_t> h(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      h[i] = float_to_half_bits(in[i]);
      b[i] = float_to_bf16_bits(in[i]);
    }
    bool want_bad = false;
    for (size_t i = 0; i < n; ++i) want_bad |= !std::isfinite(in[i]);
    for (CpuIsa isa : test::runnable_isas()) {
      SCOPED_TRACE(cpu_isa_name(isa));
      test::IsaGuard guard(isa);
      std::vector<uint16_t> h2(n + 1, 0xabcd), b2(n + 1, 0xabcd);
      EXPECT_EQ(float_to_half_check(in.data(), h2.data(), n), want_bad);
      EXPECT_EQ(float_to_bf16_check(in.data(), b2.data(), n), want_bad);
      EXPECT_EQ(h2[n], 0xabcd);  // nothing written past the end
      EXPECT_EQ(b2[n], 0xabcd);
      h2.resize(n);
      b2.resize(n);
      ASSERT_EQ(h2, h);
      ASSERT_EQ(b2, b);
      std::vector<float> f(n + 1, 7.0f), g(n + 1, 7.0f), fs(n), gs(n);
      half_to_float(h.data(), f.data(), n);
      bf16_to_float(b.data(), g.data(), n);
      EXPECT_EQ(f[n], 7.0f);
      EXPECT_EQ(g[n], 7.0f);
      for (size_t i = 0; i < n; ++i) {
        fs[i] = half_bits_to_float(h[i]);
        gs[i] = bf16_bits_to_float(b[i]);
      }
      f.resize(n);
      g.resize(n);
      ASSERT_TRUE(test::same_bits(f, fs));
      ASSERT_TRUE(test::same_bits(g, gs));
      std::vector<float> acc(n, 1.0f), acc2(n, 1.0f), want(n), want2(n);
      half_to_float_add(h.data(), acc.data(), n);
      bf16_to_float_add(b.data(), acc2.data(), n);
      for (size_t i = 0; i < n; ++i) {
        want[i] = 1.0f + fs[i];
        want2[i] = 1.0f + gs[i];
      }
      ASSERT_TRUE(test::same_bits(acc, want));
      ASSERT_TRUE(test::same_bits(acc2, want2));
    }
  }
}

TEST(HalfArrays, AllHalfPatternsEveryPath) {
  std::vector<uint16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i] = static_cast<uint16_t>(i);
  std::vector<float> ref(65536);
  for (uint32_t i = 0; i < 65536; ++i) ref[i] = half_bits_to_float(h[i]);
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    std::vector<float> f(65536);
    half_to_float(h.data(), f.data(), f.size());
    ASSERT_TRUE(test::same_bits(f, ref)) << cpu_isa_name(isa);
    std::vector<uint16_t> back(65536);
    float_to_half(f.data(), back.data(), f.size());
    for (uint32_t i = 0; i < 65536; ++i) {
      bool is_nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff);
      ASSERT_EQ(back[i], is_nan ? (i | 0x200) : i) << cpu_isa_name(isa) << " " << i;
    }
  }
}

}  // namespace
}  // namespace gw
