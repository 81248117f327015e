// qsgd and nuq codecs (compressors/qsgd/, compressors/nuq/): specs, payload sizes
// and layout, unbiasedness over many keys, the QSGD variance bound, nuq against
// qsgd at equal bits, every SIMD path bit-identical to the scalar reference,
// non-finite buckets, edge counts and corrupt payloads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/codec_test_util.h"
#include "src/common/error.h"
#include "src/common/rng.h"
#include "compressors/nuq/nuq.h"
#include "compressors/qsgd/qsgd.h"
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

float scale_of(const Encoded& e, size_t bucket_index) {
  float v;
  memcpy(&v, e.bytes.data() + 4 * bucket_index, 4);
  return v;
}

std::string qsgd_spec(int bits, int bucket, const char* norm = "l2") {
  return "qsgd:bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket) + ",norm=" + norm;
}
std::string nuq_spec(int bits, int bucket) {
  return "nuq:bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket);
}

// The three quantizers at one bit width and bucket.
std::vector<std::string> all_kinds(int bits, int bucket) {
  return {qsgd_spec(bits, bucket, "l2"), qsgd_spec(bits, bucket, "max"), nuq_spec(bits, bucket)};
}

size_t expected_bytes(size_t n, int bits, size_t bucket) {
  const size_t nb = (n + bucket - 1) / bucket, full = n / bucket, rem = n % bucket;
  return 4 * nb + full * ((bucket * bits + 7) / 8) + (rem * bits + 7) / 8;
}

// ---- specs ---------------------------------------------------------------------------

TEST(QsgdNuqSpec, CanonicalSpecsAndIds) {
  auto q = make_compressor("qsgd");
  EXPECT_EQ(q->spec(), "qsgd:bits=4,bucket=512,norm=l2");
  EXPECT_EQ(q->id(), kQsgdCompressorId);
  EXPECT_EQ(q->id(), 5);
  EXPECT_EQ(make_compressor("qsgd:norm=l2,bucket=512,bits=4").get(), q.get());
  EXPECT_EQ(make_compressor(" qsgd:norm=max, bits=8")->spec(), "qsgd:bits=8,bucket=512,norm=max");
  auto n = make_compressor("nuq");
  EXPECT_EQ(n->spec(), "nuq:bits=4,bucket=512");
  EXPECT_EQ(n->id(), kNuqCompressorId);
  EXPECT_EQ(n->id(), 6);
  EXPECT_EQ(make_compressor("nuq:bucket=1000,bits=2")->spec(), "nuq:bits=2,bucket=1000");
  EXPECT_TRUE(q->traits().unbiased);
  EXPECT_TRUE(n->traits().unbiased);
  EXPECT_TRUE(q->traits().fixed_size);
  EXPECT_FALSE(n->traits().needs_error_feedback);
}

TEST(QsgdNuqSpec, BadSpecsNameTheKey) {
  struct Case {
    const char* spec;
    const char* key;
  } cases[] = {{"qsgd:bits=1", "bits"},       {"qsgd:bits=0", "bits"},       {"qsgd:bits=9", "bits"},
               {"qsgd:bucket=63", "bucket"},  {"qsgd:bucket=8193", "bucket"}, {"qsgd:norm=l1", "norm"},
               {"qsgd:foo=1", "foo"},         {"qsgd:bits=x", "bits"},       {"nuq:bits=1", "bits"},
               {"nuq:bits=9", "bits"},        {"nuq:bucket=10", "bucket"},   {"nuq:norm=l2", "norm"}};
  for (auto& c : cases) {
    std::string what;
    EXPECT_EQ(status_of([&] { make_compressor(c.spec); }, &what), GW_ERR_INVALID_ARGUMENT) << c.spec;
    EXPECT_NE(what.find(c.key), std::string::npos) << c.spec << ": " << what;
  }
  // The constructors check too (direct use, no registry).
  std::string what;
  EXPECT_EQ(status_of([&] { QsgdCompressor c({1, 512, QsgdNorm::L2}); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(what.find("bits"), std::string::npos) << what;
  EXPECT_EQ(status_of([&] { NuqCompressor c({1, 512}); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(what.find("bits"), std::string::npos) << what;
}

// ---- sizes, layout, corrupt payloads, edge counts ------------------------------------------

TEST(QsgdNuq, EncodedSizeMatchesLayout) {
  for (int bits = 2; bits <= 8; ++bits)
    for (int bucket : {64, 100, 512, 777, 8192})
      for (const std::string& spec : all_kinds(bits, bucket)) {
        auto c = make_compressor(spec);
        for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(65), size_t(1000), size_t(100000)})
          ASSERT_EQ(c->encoded_bytes(n), expected_bytes(n, bits, bucket)) << spec << " n=" << n;
      }
  EXPECT_EQ(make_compressor("qsgd")->encoded_bytes(1 << 20), (1u << 20) / 2 + 4 * 2048);
  EXPECT_EQ(make_compressor("nuq:bits=8")->encoded_bytes(1 << 20), (1u << 20) + 4 * 2048);
  // The size written equals encoded_bytes for ragged counts (guard bytes checked in encode()).
  for (const std::string& spec : all_kinds(3, 100))
    for (size_t n : {size_t(1), size_t(99), size_t(101), size_t(1234)}) {
      auto c = make_compressor(spec);
      Encoded e = encode(*c, gaussian(n, static_cast<uint32_t>(n)), 5);
      EXPECT_EQ(e.bytes.size(), expected_bytes(n, 3, 100));
    }
}

TEST(QsgdNuq, WrongByteCountIsCorrupt) {
  for (const char* spec : {"qsgd", "qsgd:bits=3,bucket=100,norm=max", "nuq", "nuq:bits=5,bucket=64"}) {
    SCOPED_TRACE(spec);
    auto c = make_compressor(spec);
    for (const std::string& what : test::expect_wrong_byte_counts_corrupt(*c))
      EXPECT_NE(what.find(c->spec()), std::string::npos) << what;  // the message names the codec
  }
}

TEST(QsgdNuq, EmptySingleAndPartialBucket) {
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    for (int bits : {2, 4, 8})
      for (const std::string& spec : all_kinds(bits, 64)) {
        SCOPED_TRACE(spec + " " + cpu_isa_name(isa));
        auto c = make_compressor(spec);
        EXPECT_EQ(c->encoded_bytes(0), 0u);
        bool nf = false;
        EXPECT_EQ(c->encode(nullptr, 0, nullptr, 7, &nf), 0u);
        EXPECT_FALSE(nf);
        c->decode(nullptr, 0, 0, nullptr);
        c->decode_add(nullptr, 0, 0, nullptr);
        // One value: its bucket's scale is |x| (both norms), so |x| sits on the top
        // level (up to the rounding of s/|x|): the decode is x within a few ulps.
        for (float v : {3.25f, -0.7f, 1e-20f}) {
          Encoded e = encode(*c, {v}, 7);
          EXPECT_EQ(scale_of(e, 0), std::fabs(v));
          EXPECT_NEAR(decode(*c, e, 1)[0], v, 4e-7 * std::fabs(v));
        }
        // A partial last bucket of 5 values after one full bucket.
        std::vector<float> x = gaussian(69, 4);
        Encoded e = encode(*c, x, 8);
        std::vector<float> y = decode(*c, e, x.size());
        for (size_t i = 64; i < 69; ++i) EXPECT_LE(std::fabs(y[i] - x[i]), scale_of(e, 1) * 1.0001f) << i;
      }
  }
}

// The documented layout: scales first, then LSB-first packed codes per bucket.
TEST(QsgdNuq, DecodesHandBuiltPayload) {
  const size_t n = 70;  // one full bucket of 64 + a partial one of 6
  std::vector<uint8_t> p(expected_bytes(n, 4, 64), 0);
  ASSERT_EQ(p.size(), 8u + 32u + 3u);
  const float s0 = 7.0f, s1 = 14.0f;  // qsgd (s = 7): steps 1 and 2
  memcpy(&p[0], &s0, 4);
  memcpy(&p[4], &s1, 4);
  p[8] = 0xa3;       // bucket 0: code 3 (+3 levels) then code 0xa (sign, level 2)
  p[8 + 31] = 0x70;  // bucket 0: element 62 code 0, element 63 code 7
  p[40] = 0x1f;      // bucket 1: code 0xf (-7 levels), code 1
  p[42] = 0x08;      // bucket 1: element 4 code 8 (sign, level 0), element 5 code 0
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    SCOPED_TRACE(cpu_isa_name(isa));
    std::vector<float> out(n);
    make_compressor("qsgd:bits=4,bucket=64")->decode(p.data(), p.size(), n, out.data());
    EXPECT_EQ(out[0], 3.0f);
    EXPECT_EQ(out[1], -2.0f);
    EXPECT_EQ(out[2], 0.0f);
    EXPECT_EQ(out[62], 0.0f);
    EXPECT_EQ(out[63], 7.0f);
    EXPECT_EQ(out[64], -14.0f);
    EXPECT_EQ(out[65], 2.0f);
    EXPECT_EQ(out[68], 0.0f);
    EXPECT_TRUE(std::signbit(out[68]));  // a stray sign on level 0 is -0 (encoders never write it)
    EXPECT_EQ(out[69], 0.0f);
    // nuq (s = 7): level l is scale * 2^(l-7).
    make_compressor("nuq:bits=4,bucket=64")->decode(p.data(), p.size(), n, out.data());
    EXPECT_EQ(out[0], 7.0f / 16);
    EXPECT_EQ(out[1], -7.0f / 32);
    EXPECT_EQ(out[63], 7.0f);
    EXPECT_EQ(out[64], -14.0f);
    EXPECT_EQ(out[65], 14.0f / 64);
  }
}

// ---- scales -----------------------------------------------------------------------------

TEST(QsgdNuq, ScaleIsTheNormToTheUlp) {
  for (const std::string& spec : {qsgd_spec(4, 512, "l2"), qsgd_spec(4, 512, "max"), nuq_spec(4, 512)}) {
    const bool is_max = spec.find("max") != std::string::npos;
    auto c = make_compressor(spec);
    for (float sigma : {1.0f, 1e-30f, 1e30f, 1e-42f}) {
      std::vector<float> x = gaussian(512 * 4 + 77, 11, sigma);
      for (size_t i = 0; i < x.size(); i += 5) x[i] = std::ldexp(x[i], static_cast<int>(i % 24) - 12);
      Encoded e = encode(*c, x, 3);
      for (size_t j = 0; j * 512 < x.size(); ++j) {
        double ss = 0, mx = 0;
        for (size_t i = j * 512; i < std::min(x.size(), (j + 1) * 512); ++i) {
          ss += double(x[i]) * double(x[i]);
          mx = std::max(mx, std::fabs(double(x[i])));
        }
        double want = is_max ? mx : std::sqrt(ss);
        if (want < 0x1p-118) want = 0;  // below kMinScale: stored as 0
        if (want > std::numeric_limits<float>::max()) want = std::numeric_limits<float>::max();
        const float got = scale_of(e, j);
        EXPECT_NEAR(got, want, want * 1.2e-7) << spec << " sigma=" << sigma << " bucket " << j;
        if (!is_max && want > 0) EXPECT_GE(got, mx) << "the l2 norm is at least max|v|";
      }
    }
  }
}

TEST(QsgdNuq, ZeroTinyAndHugeBuckets) {
  for (CpuIsa isa : test::runnable_isas()) {
    test::IsaGuard guard(isa);
    for (const std::string& spec : all_kinds(4, 64)) {
      SCOPED_TRACE(spec + " " + cpu_isa_name(isa));
      auto c = make_compressor(spec);
      std::vector<float> x(64 * 4);
      for (size_t i = 0; i < 64; ++i) x[i] = (i % 2) ? 0.0f : -0.0f;                       // zeros
      for (size_t i = 64; i < 128; ++i) x[i] = float(i) * std::numeric_limits<float>::denorm_min();  // tiny
      for (size_t i = 128; i < 192; ++i) x[i] = (i % 2 ? 1 : -1) * std::numeric_limits<float>::max();  // l2 overflows
      for (size_t i = 192; i < 256; ++i) x[i] = (i % 3 ? 1.0f : -1.0f) * 0x1p-100f;           // small, above 2^-118
      Encoded e = encode(*c, x, 21);
      EXPECT_FALSE(e.nonfinite);
      EXPECT_EQ(test::bits_of(scale_of(e, 0)), 0u);
      EXPECT_EQ(test::bits_of(scale_of(e, 1)), 0u);
      EXPECT_EQ(scale_of(e, 2), std::numeric_limits<float>::max());
      std::vector<float> y = decode(*c, e, x.size());
      for (size_t i = 0; i < 128; ++i) EXPECT_EQ(test::bits_of(y[i]), 0u) << i;  // +0
      for (size_t i = 128; i < 192; ++i) {
        EXPECT_TRUE(std::isfinite(y[i])) << i;
        EXPECT_FALSE(y[i] != 0 && std::signbit(y[i]) != std::signbit(x[i])) << i;
      }
      for (size_t i = 192; i < 256; ++i) EXPECT_LE(std::fabs(y[i]), scale_of(e, 3) * 1.0001f) << i;
    }
  }
}

// Codes with level 0 never carry the sign bit (canonical: helps a lossless stage).
TEST(QsgdNuq, NoSignOnLevelZero) {
  for (int bits : {2, 3, 4, 8})
    for (const std::string& spec : all_kinds(bits, 512)) {
      auto c = make_compressor(spec);
      std::vector<float> x = gaussian(4096, 12);
      Encoded e = encode(*c, x, 13);
      const uint8_t* codes = e.bytes.data() + 4 * 8;
      for (size_t k = 0; k < x.size(); ++k) {
        size_t bit = k * bits;
        uint32_t v = codes[bit / 8] | (bit / 8 + 1 < e.bytes.size() - 32 ? codes[bit / 8 + 1] << 8 : 0);
        uint32_t code = (v >> (bit % 8)) & ((1u << bits) - 1);
        ASSERT_NE(code, 1u << (bits - 1)) << spec << " k=" << k;
        if ((code & ((1u << (bits - 1)) - 1)) != 0) ASSERT_EQ((code >> (bits - 1)) != 0, x[k] < 0) << spec << " " << k;
      }
    }
}

// ---- statistics ---------------------------------------------------------------------------

// E[decode(encode(x))] == x: the mean of many keys' decodes against x, per element,
// within 6 standard deviations of the mean (a two-point rounding between levels a < b
// has variance <= (b - a)^2 / 4).
TEST(QsgdNuq, Unbiased) {
  const int bucket = 256;
  const size_t n = 256 * 3 + 37;  // a partial last bucket too
  const int trials = 2000;
  for (int bits : {2, 3, 4, 8}) {
    for (const std::string& spec : all_kinds(bits, bucket)) {
      SCOPED_TRACE(spec);
      auto c = make_compressor(spec);
      const bool nuq = spec[0] == 'n';
      const uint32_t s = (1u << (bits - 1)) - 1;
      std::vector<float> x = gaussian(n, 77 + bits);
      std::vector<double> sum(n, 0.0);
      std::vector<float> scale(n);
      for (int t = 0; t < trials; ++t) {
        Encoded e = encode(*c, x, rng_derive_key(42, t, 0, 0, bits));
        std::vector<float> y = decode(*c, e, n);
        for (size_t i = 0; i < n; ++i) sum[i] += y[i];
        if (t == 0)
          for (size_t i = 0; i < n; ++i) scale[i] = scale_of(e, i / bucket);
      }
      double worst = 0;
      for (size_t i = 0; i < n; ++i) {
        // Gap between the two levels around |x|.
        const double gap = nuq ? std::max<double>(std::fabs(x[i]), std::ldexp(scale[i], 1 - int(s))) : scale[i] / s;
        const double sd = gap / (2.0 * std::sqrt(double(trials)));
        const double z = std::fabs(sum[i] / trials - x[i]) / (sd + 1e-30);
        worst = std::max(worst, z);
        ASSERT_NEAR(sum[i] / trials, x[i], 6.0 * sd + 1e-6 * std::fabs(x[i])) << i;
      }
      std::printf("[ unbiased ] %-32s worst |mean - x| = %.2f sd over %zu values x %d keys\n", spec.c_str(), worst,
                  n, trials);
    }
  }
}

// Mean over keys of ||Q(v) - v||^2 / ||v||^2 (all buckets full).
double relative_variance(const Compressor& c, const std::vector<float>& x, int trials) {
  double err = 0, norm2 = 0;
  for (float v : x) norm2 += double(v) * v;
  for (int t = 0; t < trials; ++t) {
    Encoded e = encode(c, x, rng_derive_key(7, t, 1, 2, 3));
    std::vector<float> y = decode(c, e, x.size());
    for (size_t i = 0; i < x.size(); ++i) err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
  }
  return err / trials / norm2;
}

// QSGD (norm=l2): E||Q(v) - v||^2 <= min(d/s^2, sqrt(d)/s) ||v||^2 for a bucket of d
// values. Checked on Gaussian data and on +-1 data (the worst case of the sqrt(d)/s
// term at s = 1: measured (sqrt(d) - 1)/sqrt(d) of the bound).
TEST(QsgdNuq, QsgdVarianceBound) {
  for (int bucket : {64, 512}) {
    for (int bits = 2; bits <= 8; ++bits) {
      const double s = (1 << (bits - 1)) - 1, d = bucket;
      const double bound = std::min(d / (s * s), std::sqrt(d) / s);
      auto c = make_compressor(qsgd_spec(bits, bucket));
      std::vector<float> g = gaussian(size_t(bucket) * 16, 500 + bits);
      std::vector<float> pm(size_t(bucket) * 16);
      std::mt19937 gen(bits);
      for (auto& v : pm) v = (gen() & 1) ? 1.0f : -1.0f;
      const double vg = relative_variance(*c, g, 100), vpm = relative_variance(*c, pm, 100);
      std::printf("[ variance ] qsgd bits=%d bucket=%d: bound %.4g, gaussian %.4g (%.2f of bound), +-1 %.4g (%.2f)\n",
                  bits, bucket, bound, vg, vg / bound, vpm, vpm / bound);
      EXPECT_LE(vg, bound) << "bits=" << bits << " bucket=" << bucket;
      EXPECT_LE(vpm, bound) << "bits=" << bits << " bucket=" << bucket;
    }
  }
}

// nuq against qsgd (norm=l2) at equal bits on Gaussian buckets: nuq's levels are
// finer where most of |v_i| / ||v|| lie (around d^-1/2), so its variance is lower
// at 3..6 bits; at 2 bits both have the levels {0, 1}, and at 7..8 bits qsgd's
// many uniform levels are finer than nuq's powers of two.
TEST(QsgdNuq, NuqVarianceBelowQsgdOnGaussianData) {
  for (int bucket : {128, 512, 2048}) {
    std::vector<float> x = gaussian(size_t(bucket) * std::max(8, 8192 / bucket), 900 + bucket);
    for (int bits = 2; bits <= 8; ++bits) {
      auto q = make_compressor(qsgd_spec(bits, bucket)), n = make_compressor(nuq_spec(bits, bucket));
      const double vq = relative_variance(*q, x, 50), vn = relative_variance(*n, x, 50);
      std::printf("[ variance ] bucket=%d bits=%d: qsgd %.4g  nuq %.4g  (nuq/qsgd %.3f)\n", bucket, bits, vq, vn,
                  vn / vq);
      if (bits >= 3 && bits <= 5) EXPECT_LT(vn, vq) << "bucket=" << bucket << " bits=" << bits;
      if (bits == 2) EXPECT_NEAR(vn / vq, 1.0, 0.05) << "same levels {0, 1} at 2 bits";
    }
  }
}

// ---- paths, keys, non-finite --------------------------------------------------------------

TEST(QsgdNuq, SameKeySameBytesOtherKeyOtherBytes) {
  for (const std::string& spec : all_kinds(4, 512)) {
    auto c = make_compressor(spec);
    std::vector<float> x = gaussian(4096, 5);
    Encoded a = encode(*c, x, 1), b = encode(*c, x, 1), d = encode(*c, x, 2);
    EXPECT_EQ(a.bytes, b.bytes) << spec;
    EXPECT_NE(a.bytes, d.bytes) << spec;
  }
}

// Element i uses (key, i): the codes of a prefix do not depend on what follows.
TEST(QsgdNuq, CounterIsElementIndex) {
  for (const std::string& spec : all_kinds(8, 64)) {
    auto c = make_compressor(spec);
    std::vector<float> x = gaussian(256, 6);
    Encoded full = encode(*c, x, 5);
    std::vector<float> prefix(x.begin(), x.begin() + 128);
    Encoded part = encode(*c, prefix, 5);
    EXPECT_EQ(memcmp(full.bytes.data(), part.bytes.data(), 8), 0) << spec;  // scales of buckets 0, 1
    EXPECT_EQ(memcmp(full.bytes.data() + 16, part.bytes.data() + 8, 128), 0) << spec;
  }
}

TEST(QsgdNuq, NonfiniteBucketDecodesToNaN) {
  for (float bad : {kNaN, kInf, -kInf}) {
    for (CpuIsa isa : test::runnable_isas()) {
      test::IsaGuard guard(isa);
      for (const std::string& spec : all_kinds(4, 64)) {
        SCOPED_TRACE(spec + " " + cpu_isa_name(isa));
        auto c = make_compressor(spec);
        std::vector<float> x = gaussian(64 * 3 + 10, 8);
        x[64 + 17] = bad;
        x[64 * 3 + 3] = bad;  // in the partial last bucket
        Encoded e = encode(*c, x, 3);
        EXPECT_TRUE(e.nonfinite);
        EXPECT_EQ(test::bits_of(scale_of(e, 1)), 0x7fc00000u);
        EXPECT_EQ(test::bits_of(scale_of(e, 3)), 0x7fc00000u);
        std::vector<float> y = decode(*c, e, x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          const bool in_bad_bucket = (i >= 64 && i < 128) || i >= 192;
          if (in_bad_bucket)
            EXPECT_TRUE(std::isnan(y[i])) << i;
          else
            EXPECT_TRUE(std::isfinite(y[i])) << i;
        }
        std::vector<float> acc(x.size(), 1.0f);
        c->decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
        EXPECT_TRUE(std::isnan(acc[100]));
        EXPECT_TRUE(std::isnan(acc[195]));
        EXPECT_TRUE(std::isfinite(acc[0]));
        bool nf = false;
        std::vector<float> good = gaussian(100, 9);
        std::vector<uint8_t> buf(c->encoded_bytes(100));
        c->encode(good.data(), good.size(), buf.data(), 1, &nf);
        EXPECT_FALSE(nf) << "finite input leaves the flag alone";
      }
    }
  }
}

// Every SIMD path gives the scalar reference's payload, decode and decode_add bits.
TEST(QsgdNuq, EveryPathBitIdentical) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  for (int bits = 2; bits <= 8; ++bits) {
    for (int bucket : {64, 100, 512, 777}) {
      for (const std::string& spec : all_kinds(bits, bucket)) {
        auto c = make_compressor(spec);
        for (size_t n : {size_t(1), size_t(15), size_t(63), size_t(64), size_t(65), size_t(1000), size_t(4099)}) {
          SCOPED_TRACE(testing::Message() << spec << " n=" << n);
          std::vector<float> x = gaussian(n, static_cast<uint32_t>(n * 31 + bits), 2.0f);
          for (size_t i = 0; i < n; i += 7) x[i] = std::ldexp(x[i], static_cast<int>(i % 40) - 20);  // wide magnitudes
          if (n > 20) {
            x[3] = -0.0f;
            x[4] = 0.0f;
            x[5] = std::numeric_limits<float>::denorm_min();
          }
          std::vector<float> acc0 = gaussian(n, 9);
          ASSERT_NO_FATAL_FAILURE(test::expect_every_path_matches_scalar(*c, x, 0x123456789abcdefull + bits, acc0,
                                                                         static_cast<uint32_t>(n + bits)));
        }
      }
    }
  }
}

// Values on and next to the level boundaries, the nuq split point 2^(1-s) and
// (bits 8) subnormal ratios: buckets 0..7 hold one 1.0 and values small enough
// that its scale (l2 norm or max) stays 1.0, so |x| * inv is |x| exactly; many
// keys vary the random numbers met at each boundary. Buckets 8..10: extreme
// magnitudes for the l2 norm.
TEST(QsgdNuq, EveryPathBitIdenticalAtBoundaries) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  const size_t bucket = 512, n = 11 * bucket;
  std::mt19937 g(77);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % bucket == 0) {
      x[i] = (i / bucket) % 2 ? -1.0f : 1.0f;
      continue;
    }
    const uint32_t pick = g() % 4;
    int ex = -static_cast<int>(g() % 150) - 13;  // 2^-13 .. 2^-162: the norm stays 1
    if (pick == 0) ex = -static_cast<int>(g() % 8) - 13;
    float mant = 1.0f;
    if (pick == 1) mant = 1.0f + std::ldexp(1.0f, -23);
    if (pick == 2) mant = 2.0f - std::ldexp(1.0f, -23);
    if (pick == 3) mant = 1.0f + static_cast<float>(g() % 1024) / 1024.0f;
    const float v = std::ldexp(mant, ex);
    x[i] = g() % 2 ? -v : v;
  }
  // Exact qsgd levels l / s and nuq levels 2^(l-s) of every width in bucket 1.
  for (int s = 1; s <= 127; s = 2 * s + 1)
    for (int l = 0; l <= s && l < 40; ++l) {
      x[bucket + 1 + static_cast<size_t>(s % 64) * 2 + static_cast<size_t>(l) % 2] =
          static_cast<float>(l) / static_cast<float>(s) * 0.01f;
      x[bucket + 200 + static_cast<size_t>(l) * 7 % 300] = std::ldexp(1.0f, l - s);
    }
  // The extreme exponents of the l2 sum: near FLT_MAX (the norm overflows to the
  // FLT_MAX scale), around 2^100, and only subnormals (e = -126).
  const std::vector<float> gs = gaussian(3 * bucket, 78);
  for (size_t i = 0; i < bucket; ++i) {
    x[8 * bucket + i] = std::ldexp(gs[i], 125);
    x[9 * bucket + i] = std::ldexp(gs[bucket + i], 100);
    x[10 * bucket + i] = std::ldexp(gs[2 * bucket + i], -130 - static_cast<int>(i % 20));
  }
  for (int bits = 2; bits <= 8; ++bits)
    for (const std::string& spec : all_kinds(bits, static_cast<int>(bucket))) {
      auto c = make_compressor(spec);
      for (uint64_t key = 1; key <= 24; ++key) {
        SCOPED_TRACE(testing::Message() << spec << " key=" << key);
        ASSERT_NO_FATAL_FAILURE(test::expect_every_path_matches_scalar(
            *c, x, key * 0x9e3779b97f4a7c15ull, std::vector<float>(n, 0.25f), static_cast<uint32_t>(key)));
      }
    }
}

// The key whose rng_u32(key, counter) is r, for a given high key half k1: the
// hash inverted step by step (xorshift by 15 undone by two, odd multipliers by
// their inverses mod 2^32).
uint64_t key_for_random(uint32_t counter, uint32_t r, uint32_t k1) {
  auto inv_odd = [](uint32_t a) {
    uint32_t v = a;
    for (int i = 0; i < 5; ++i) v *= 2u - a * v;
    return v;
  };
  auto unshift15 = [](uint32_t y) { return y ^ (y >> 15) ^ (y >> 30); };
  uint32_t x = unshift15(r) * inv_odd(kRngMul2);
  x = unshift15(x ^ k1) * inv_odd(kRngMul1);
  x ^= x >> 16;
  return (static_cast<uint64_t>(k1) << 32) | static_cast<uint32_t>(x - counter);
}

// Random numbers steered onto the decision boundaries: for chosen values, keys
// whose 16-bit rounding number U at that value (common/rng.h: half of the hash of
// the value's pair counter i / 2) sits at, just below and just above the
// threshold of the rounding decision (qsgd: fma(|x|, s/scale, u) reaching the
// next integer; nuq: U * 2^7 against the mantissa of y, u against y * 2^(s-1)
// below 2^(1-s)), events that random keys rarely hit.
TEST(QsgdNuq, EveryPathBitIdenticalAtSteeredRandomNumbers) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  const size_t bucket = 64, n = 3 * bucket;
  std::vector<float> x = gaussian(n, 4242);
  for (size_t i = 1; i < bucket; i += 5) x[i] *= 1e-4f;
  x[2 * bucket] = std::ldexp(1.0f, 60);  // bucket 2: subnormal ratios (nuq bits 8 takes them below 2^(1-s))
  for (size_t i = 2 * bucket + 1; i < n; ++i) x[i] = std::ldexp(x[i], -80 - static_cast<int>(i % 40));
  std::mt19937 g(5);
  // U values around z (a threshold in units of 2^-16), kept in [0, 2^16).
  auto around = [](double z, std::vector<uint32_t>& us) {
    for (int64_t u = static_cast<int64_t>(std::floor(z)) - 1; u <= static_cast<int64_t>(std::ceil(z)) + 1; ++u)
      if (u >= 0 && u < (1 << 16)) us.push_back(static_cast<uint32_t>(u));
  };
  for (int bits = 2; bits <= 8; ++bits)
    for (const std::string& spec : all_kinds(bits, static_cast<int>(bucket))) {
      auto c = make_compressor(spec);
      Encoded e;
      {
        test::IsaGuard scalar(CpuIsa::SCALAR);
        e = encode(*c, x, 1);
      }
      const bool nuq = spec.rfind("nuq", 0) == 0;
      const uint32_t s = (1u << (bits - 1)) - 1u;
      for (size_t i = 3; i < n; i += 11) {
        const float scale = scale_of(e, i / bucket);
        const float ax = std::fabs(x[i]);
        std::vector<uint32_t> us;
        if (nuq) {
          float y = ax * (1.0f / scale);
          y = y < 1.0f ? y : 1.0f;
          uint32_t yb;
          memcpy(&yb, &y, 4);
          const int k = static_cast<int>(yb >> 23) - 127 + static_cast<int>(s);
          if (k >= 1)
            around(std::ldexp(static_cast<double>(yb & 0x7fffff), -7), us);
          else
            around(std::ldexp(static_cast<double>(y), static_cast<int>(s) - 1 + 16), us);
        } else {
          const double t0 = static_cast<double>(ax) * static_cast<double>(static_cast<float>(s) / scale);
          around(std::ldexp(std::floor(t0) + 1.0 - t0, 16), us);
        }
        const uint32_t pair = static_cast<uint32_t>(i) >> 1;
        for (uint32_t u : us) {
          // The pair's hash with U in element i's half, the other half random.
          const uint32_t other = g() & 0xffffu;
          const uint32_t r = (i & 1) ? (u << 16) | other : (other << 16) | u;
          const uint64_t key = key_for_random(pair, r, static_cast<uint32_t>(g()));
          ASSERT_EQ(rng_u32(key, pair), r);
          ASSERT_EQ(rng_sr16(key, static_cast<uint32_t>(i)), u);
          SCOPED_TRACE(testing::Message() << spec << " i=" << i << " U=" << u);
          ASSERT_NO_FATAL_FAILURE(
              test::expect_every_path_matches_scalar(*c, x, key, std::vector<float>(n, 0.5f), r));
        }
      }
    }
}

// Rounding-level differences between paths (a*b+c instead of fma, another
// summation order) would show on many values only: 2^21 values at 8 and 5 bits.
TEST(QsgdNuq, EveryPathBitIdenticalLarge) {
  std::vector<CpuIsa> isas = test::runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "only the scalar path runs on this CPU";
  const size_t n = size_t(1) << 21;
  std::vector<float> x = gaussian(n, 2024);
  for (size_t i = 0; i < n; i += 3) x[i] *= 1e-3f;
  for (int bits : {8, 5}) {
    for (const std::string& spec : all_kinds(bits, 512)) {
      auto c = make_compressor(spec);
      Encoded ref;
      std::vector<float> ref_dec;
      for (CpuIsa isa : isas) {
        test::IsaGuard guard(isa);
        Encoded e = encode(*c, x, 0xfeedull + bits);
        std::vector<float> y = decode(*c, e, n);
        if (isa == CpuIsa::SCALAR) {
          ref = std::move(e);
          ref_dec = std::move(y);
          continue;
        }
        size_t diff = 0;
        for (size_t i = 0; i < e.bytes.size(); ++i) diff += e.bytes[i] != ref.bytes[i];
        EXPECT_EQ(diff, 0u) << spec << " " << cpu_isa_name(isa);
        EXPECT_TRUE(test::same_bits(y, ref_dec)) << spec << " " << cpu_isa_name(isa);
      }
    }
  }
}

TEST(QsgdNuq, DecodeAddAccumulates) {
  for (const std::string& spec : all_kinds(8, 512)) {
    auto c = make_compressor(spec);
    std::vector<float> x = gaussian(3000, 10);
    Encoded e = encode(*c, x, 11);
    std::vector<float> y = decode(*c, e, x.size());
    std::vector<float> acc(x.size(), 0.5f);
    c->decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
    c->decode_add(e.bytes.data(), e.bytes.size(), x.size(), acc.data());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(acc[i], (0.5f + y[i]) + y[i]) << spec << " " << i;
  }
}

}  // namespace
}  // namespace gw
