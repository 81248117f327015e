// Built-in codecs (none, fp16, bf16, maxmin): round trips, error bounds,
// unbiasedness, payload layout, every SIMD path bit-identical to the scalar
// reference, and rejection of corrupt payloads and bad specs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/unit/codec_test_util.h"
#include "src/common/error.h"
#include "src/common/half.h"
#include "src/common/rng.h"
#include "compressors/maxmin/maxmin.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

using test::decode;
using test::encode;
using test::Encoded;
using test::gaussian;
using test::kInf;
using test::kNaN;
using test::status_of;

// ---- registry / specs ---------------------------------------------------------------

TEST(CompressorSpec, CanonicalSpecsAndIds) {
  EXPECT_EQ(make_compressor("none")->spec(), "none");
  EXPECT_EQ(make_compressor("none")->id(), 1);
  EXPECT_EQ(make_compressor("fp16")->id(), 2);
  EXPECT_EQ(make_compressor("bf16")->id(), 3);
  auto a = make_compressor("maxmin");
  EXPECT_EQ(a->spec(), "maxmin:bits=4,bucket=512");
  EXPECT_EQ(a->id(), kMaxMinCompressorId);
  auto b = make_compressor("maxmin:bucket=512,bits=4");
  EXPECT_EQ(a.get(), b.get());  // one object per canonical spec
  EXPECT_EQ(make_compressor(" maxmin:bucket=1000, bits=3")->spec(), "maxmin:bits=3,bucket=1000");
  EXPECT_TRUE(a->traits().unbiased);
  EXPECT_TRUE(make_compressor("none")->traits().linear);
}

TEST(CompressorSpec, BadSpecsNameTheKey) {
  struct Case {
    const char* spec;
    const char* key;
  } cases[] = {{"maxmin:bits=0", "bits"},     {"maxmin:bits=9", "bits"},   {"maxmin:bucket=10", "bucket"},
               {"maxmin:bucket=9000", "bucket"}, {"maxmin:foo=1", "foo"},  {"maxmin:bits=x", "bits"},
               {"none:foo=1", "foo"},           {"fp16:bits=4", "bits"}};
  for (auto& c : cases) {
    std::string what;
    EXPECT_EQ(status_of([&] { make_compressor(c.spec); }, &what), GW_ERR_INVALID_ARGUMENT) << c.spec;
    EXPECT_NE(what.find(c.key), std::string::npos) << c.spec << ": " << what;
  }
}

// ---- none / fp16 / bf16 ---------------------------------------------------------------

TEST(NoneCodec, ExactRoundTrip) {
  auto c = make_compressor("none");
  std::vector<float> x = gaussian(1001, 1);
  x[3] = -0.0f;
  x[4] = std::numeric_limits<float>::denorm_min();
  x[5] = std::numeric_limits<float>::max();
  Encoded e = encode(*c, x, 0);
  EXPECT_FALSE(e.nonfinite);
  EXPECT_EQ(e.bytes.size(), 4 * x.size());
  EXPECT_EQ(memcmp(e.bytes.data(), x.data(), e.bytes.size()), 0);  // raw little-endian float32
  EXPECT_TRUE(test::same_bits(decode(*c, e, x.size()), x));
  std::vector<float> acc(x.size(), 2.0f);
  c->decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(acc[i], 2.0f + x[i]);
  x[700] = kNaN;
  Encoded bad = encode(*c, x, 0);
  EXPECT_TRUE(bad.nonfinite);
  EXPECT_TRUE(std::isnan(decode(*c, bad, x.size())[700]));
}

TEST(HalfCodecs, RoundTripAndNonfinite) {
  for (const char* spec : {"fp16", "bf16"}) {
    SCOPED_TRACE(spec);
    auto c = make_compressor(spec);
    bool is_half = std::string(spec) == "fp16";
    std::vector<float> x = gaussian(333, 2, 10.0f);
    x[0] = 0.0f;
    x[1] = -1.5f;
    Encoded e = encode(*c, x, 0);
    EXPECT_FALSE(e.nonfinite);
    EXPECT_EQ(e.bytes.size(), 2 * x.size());
    std::vector<float> y = decode(*c, e, x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      uint16_t h;
      memcpy(&h, e.bytes.data() + 2 * i, 2);
      EXPECT_EQ(h, is_half ? float_to_half_bits(x[i]) : float_to_bf16_bits(x[i]));
      EXPECT_NEAR(y[i], x[i], std::fabs(x[i]) * (is_half ? 1.0 / 2048 : 1.0 / 256) + 1e-6);
    }
    EXPECT_EQ(y[1], -1.5f);
    x[5] = kNaN;
    x[6] = -kInf;
    Encoded bad = encode(*c, x, 0);
    EXPECT_TRUE(bad.nonfinite);
    y = decode(*c, bad, x.size());
    EXPECT_TRUE(std::isnan(y[5]));
    EXPECT_EQ(y[6], -kInf);
    std::vector<float> acc(x.size(), 1.0f);
    c->decode_add(bad.bytes.data(), bad.bytes.size(), x.size(), acc.data());
    EXPECT_EQ(acc[1], -0.5f);
    EXPECT_TRUE(std::isnan(acc[5]));
  }
}

TEST(AllCodecs, WrongByteCountIsCorrupt) {
  for (const char* spec : {"none", "fp16", "bf16", "maxmin", "maxmin:bits=3,bucket=100"}) {
    SCOPED_TRACE(spec);
    test::expect_wrong_byte_counts_corrupt(*make_compressor(spec));
  }
}

TEST(AllCodecs, EmptyAndSingle) {
  for (const char* spec : {"none", "fp16", "bf16", "maxmin", "maxmin:bits=1,bucket=64"}) {
    SCOPED_TRACE(spec);
    auto c = make_compressor(spec);
    EXPECT_EQ(c->encoded_bytes(0), 0u);
    bool nf = false;
    EXPECT_EQ(c->encode(nullptr, 0, nullptr, 7, &nf), 0u);
    EXPECT_FALSE(nf);
    c->decode(nullptr, 0, 0, nullptr);
    c->decode_add(nullptr, 0, 0, nullptr);
    std::vector<float> one = {3.25f};
    Encoded e = encode(*c, one, 7);
    EXPECT_EQ(decode(*c, e, 1)[0], 3.25f);  // a one-value bucket is constant: exact
  }
}

// ---- maxmin ------------------------------------------------------------------------

size_t expected_maxmin_bytes(size_t n, int bits, size_t bucket) {
  size_t nb = (n + bucket - 1) / bucket, full = n / bucket, rem = n % bucket;
  return 8 * nb + full * ((bucket * bits + 7) / 8) + (rem * bits + 7) / 8;
}

float meta(const Encoded& e, size_t bucket_index, int field) {
  float v;
  memcpy(&v, e.bytes.data() + 8 * bucket_index + 4 * field, 4);
  return v;
}

TEST(MaxMin, EncodedSizeMatchesLayout) {
  for (int bits = 1; bits <= 8; ++bits)
    for (int bucket : {64, 100, 512, 777, 8192})
      for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(65), size_t(1000), size_t(100000)}) {
        MaxMinCompressor c({bits, bucket});
        ASSERT_EQ(c.encoded_bytes(n), expected_maxmin_bytes(n, bits, bucket)) << bits << " " << bucket << " " << n;
      }
  EXPECT_EQ(MaxMinCompressor({4, 512}).encoded_bytes(1 << 20), (1u << 20) / 2 + 8 * 2048);
}

// The documented layout: metadata first, then LSB-first packed levels per bucket.
TEST(MaxMin, DecodesHandBuiltPayload) {
  MaxMinCompressor c({4, 64});
  const size_t n = 70;  // one full bucket of 64 + a partial one of 6
  std::vector<uint8_t> p(c.encoded_bytes(n), 0);
  ASSERT_EQ(p.size(), 16u + 32u + 3u);
  float m0 = 1.0f, s0 = 0.5f, m1 = -2.0f, s1 = 0.25f;
  memcpy(&p[0], &m0, 4);
  memcpy(&p[4], &s0, 4);
  memcpy(&p[8], &m1, 4);
  memcpy(&p[12], &s1, 4);
  p[16] = 0x21;       // bucket 0: level 1 then level 2
  p[16 + 31] = 0xf0;  // bucket 0: element 62 level 0, element 63 level 15
  p[48] = 0x43;       // bucket 1: levels 3, 4
  p[50] = 0x0f;       // bucket 1: element 4 level 15, element 5 level 0
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    std::vector<float> out(n);
    c.decode(p.data(), p.size(), n, out.data());
    EXPECT_EQ(out[0], 1.5f);
    EXPECT_EQ(out[1], 2.0f);
    EXPECT_EQ(out[2], 1.0f);
    EXPECT_EQ(out[62], 1.0f);
    EXPECT_EQ(out[63], 8.5f);
    EXPECT_EQ(out[64], -1.25f);
    EXPECT_EQ(out[65], -1.0f);
    EXPECT_EQ(out[66], -2.0f);
    EXPECT_EQ(out[68], -2.0f + 0.25f * 15);
    EXPECT_EQ(out[69], -2.0f);
  }
}

TEST(MaxMin, ErrorBoundAndMetadata) {
  for (int bits : {1, 2, 3, 4, 5, 8}) {
    for (int bucket : {64, 512, 1000}) {
      SCOPED_TRACE(testing::Message() << "bits=" << bits << " bucket=" << bucket);
      MaxMinCompressor c({bits, bucket});
      std::vector<float> x = gaussian(5000, bits * 100 + bucket, 3.0f);
      Encoded e = encode(c, x, rng_derive_key(1, 2, 3, 4, bits));
      EXPECT_FALSE(e.nonfinite);
      std::vector<float> y = decode(c, e, x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        size_t j = i / bucket;
        float mn = meta(e, j, 0), scale = meta(e, j, 1);
        float lo = x[j * bucket], hi = lo;
        for (size_t k = j * bucket; k < std::min(x.size(), (j + 1) * size_t(bucket)); ++k) {
          lo = std::min(lo, x[k]);
          hi = std::max(hi, x[k]);
        }
        ASSERT_EQ(mn, lo);
        ASSERT_NEAR(scale, (hi - lo) / ((1 << bits) - 1), 1e-6 * (hi - lo));
        ASSERT_LE(std::fabs(y[i] - x[i]), scale * (1 + 1e-5f)) << i;
        ASSERT_GE(y[i], lo - 1e-5f * std::fabs(lo));
        ASSERT_LE(y[i], hi + 1e-5f * std::fabs(hi) + 1e-5f * (hi - lo));
      }
    }
  }
}

TEST(MaxMin, Unbiased) {
  for (int bits : {1, 2, 4}) {
    SCOPED_TRACE(bits);
    MaxMinCompressor c({bits, 256});
    const size_t n = 256 * 3 + 37;  // a partial last bucket too
    std::vector<float> x = gaussian(n, 77 + bits);
    const int trials = 2000;
    std::vector<double> sum(n, 0.0);
    std::vector<float> scale(n);
    for (int t = 0; t < trials; ++t) {
      Encoded e = encode(c, x, rng_derive_key(42, t, 0, 0, 0));
      std::vector<float> y = decode(c, e, n);
      for (size_t i = 0; i < n; ++i) sum[i] += y[i];
      if (t == 0)
        for (size_t i = 0; i < n; ++i) scale[i] = meta(e, i / 256, 1);
    }
    // Per element Var(Q(x)) <= scale^2 / 4, so the mean of `trials` decodes has a
    // standard deviation <= scale / (2 sqrt(trials)); allow 6 of them.
    for (size_t i = 0; i < n; ++i) {
      double tol = 6.0 * scale[i] / (2.0 * std::sqrt(double(trials))) + 1e-6 * std::fabs(x[i]);
      ASSERT_NEAR(sum[i] / trials, x[i], tol) << i;
    }
  }
}

TEST(MaxMin, ConstantBucketsAreExact) {
  MaxMinCompressor c({4, 64});
  std::vector<float> x(200, -3.75f);
  for (size_t i = 64; i < 128; ++i) x[i] = 0.0f;
  for (size_t i = 128; i < 192; ++i) x[i] = (i % 2) ? 0.0f : -0.0f;
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    Encoded e = encode(c, x, 99);
    EXPECT_EQ(meta(e, 0, 1), 0.0f);
    EXPECT_EQ(test::bits_of(meta(e, 2, 0)), 0u);  // -0 stored as +0
    std::vector<float> y = decode(c, e, x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i]) << i;
  }
}

TEST(MaxMin, SameKeySameBytesOtherKeyOtherBytes) {
  MaxMinCompressor c({4, 512});
  std::vector<float> x = gaussian(4096, 5);
  Encoded a = encode(c, x, 1), b = encode(c, x, 1), d = encode(c, x, 2);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_NE(a.bytes, d.bytes);
}

// Element i uses (key, i): the levels of a prefix do not depend on what follows.
TEST(MaxMin, CounterIsElementIndex) {
  MaxMinCompressor c({8, 64});
  std::vector<float> x = gaussian(256, 6);
  Encoded full = encode(c, x, 5);
  std::vector<float> prefix(x.begin(), x.begin() + 128);
  Encoded part = encode(c, prefix, 5);
  // bucket 0 and 1 levels sit at 8*nb + j*64.
  EXPECT_EQ(memcmp(full.bytes.data() + 32, part.bytes.data() + 16, 128), 0);
}

TEST(MaxMin, NonfiniteBucketDecodesToNaN) {
  for (float bad : {kNaN, kInf, -kInf}) {
    for (CpuIsa isa : test::runnable_isas()) {
      test::IsaGuard guard(isa);
      MaxMinCompressor c({4, 64});
      std::vector<float> x = gaussian(64 * 3 + 10, 8);
      x[64 + 17] = bad;
      x[64 * 3 + 3] = bad;  // in the partial last bucket
      Encoded e = encode(c, x, 3);
      EXPECT_TRUE(e.nonfinite);
      EXPECT_EQ(test::bits_of(meta(e, 1, 0)), 0x7fc00000u);
      EXPECT_EQ(meta(e, 1, 1), 0.0f);
      std::vector<float> y = decode(c, e, x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        bool in_bad_bucket = (i >= 64 && i < 128) || i >= 192;
        if (in_bad_bucket)
          EXPECT_TRUE(std::isnan(y[i])) << i;
        else
          EXPECT_TRUE(std::isfinite(y[i])) << i;
      }
      std::vector<float> acc(x.size(), 1.0f);
      c.decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
      EXPECT_TRUE(std::isnan(acc[100]));
      EXPECT_TRUE(std::isfinite(acc[0]));
    }
  }
}

TEST(MaxMin, ExtremeRangesStayDeterministic) {
  MaxMinCompressor c({4, 64});
  std::vector<float> x(128);
  for (size_t i = 0; i < 64; ++i) x[i] = (i % 2 ? 1 : -1) * std::numeric_limits<float>::max();  // overflows
  for (size_t i = 64; i < 128; ++i) x[i] = i * std::numeric_limits<float>::denorm_min();        // tiny range
  std::vector<uint8_t> ref;
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    Encoded e = encode(c, x, 4);
    EXPECT_FALSE(e.nonfinite);
    if (ref.empty()) ref = e.bytes;
    EXPECT_EQ(e.bytes, ref) << cpu_isa_name(isa);
    std::vector<float> y = decode(c, e, x.size());
    for (size_t i = 64; i < 128; ++i) EXPECT_NEAR(y[i], x[i], 128 * std::numeric_limits<float>::denorm_min());
    for (size_t i = 0; i < 64; ++i) EXPECT_FALSE(std::isnan(y[i]));
  }
}

// Every SIMD path gives the scalar reference's payload, decode and decode_add bits.
TEST(MaxMin, EveryPathBitIdentical) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  for (int bits = 1; bits <= 8; ++bits) {
    for (int bucket : {64, 100, 512, 777}) {
      for (size_t n : {size_t(1), size_t(15), size_t(63), size_t(64), size_t(65), size_t(1000), size_t(4099)}) {
        SCOPED_TRACE(testing::Message() << "bits=" << bits << " bucket=" << bucket << " n=" << n);
        MaxMinCompressor c({bits, bucket});
        std::vector<float> x = gaussian(n, static_cast<uint32_t>(n * 31 + bits), 2.0f);
        for (size_t i = 0; i < n; i += 7) x[i] = std::ldexp(x[i], (i % 40) - 20);  // wide magnitudes
        if (n > 20) {
          x[3] = -0.0f;
          x[4] = 0.0f;
        }
        std::vector<float> acc0 = gaussian(n, 9);
        ASSERT_NO_FATAL_FAILURE(test::expect_every_path_matches_scalar(c, x, 0x123456789abcdefull + bits, acc0,
                                                                       static_cast<uint32_t>(n + bits)));
      }
    }
  }
}

// Rounding-level differences between paths (say, a*b+c instead of fma) change
// a level only when t lands within an ulp of an integer: rare, so this test uses
// many values and 8 bits (t up to 255, where an ulp is 2^-16).
TEST(MaxMin, EveryPathBitIdenticalLarge) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  const size_t n = size_t(1) << 22;
  std::vector<float> x = gaussian(n, 2024);
  for (int bits : {8, 5}) {
    MaxMinCompressor c({bits, 512});
    Encoded ref;
    for (CpuIsa isa : isas) {
      test::IsaGuard guard(isa);
      Encoded e = encode(c, x, 0xfeedull + bits);
      if (isa == CpuIsa::SCALAR) {
        ref = std::move(e);
        continue;
      }
      size_t diff = 0;
      for (size_t i = 0; i < e.bytes.size(); ++i) diff += e.bytes[i] != ref.bytes[i];
      EXPECT_EQ(diff, 0u) << cpu_isa_name(isa) << " bits=" << bits;
    }
  }
}

TEST(MaxMin, DecodeAddAccumulates) {
  MaxMinCompressor c({8, 512});
  std::vector<float> x = gaussian(3000, 10);
  Encoded e = encode(c, x, 11);
  std::vector<float> y = decode(c, e, x.size());
  std::vector<float> acc(x.size(), 0.5f);
  c.decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
  c.decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(acc[i], (0.5f + y[i]) + y[i]);
}

}  // namespace
}  // namespace gw
