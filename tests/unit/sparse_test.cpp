// topk and randomk (compressors/topk, compressors/randomk): the exact top-k set
// against brute force (ties toward lower indices), the sampled mode's survivor
// count, every index coding, error feedback that loses nothing, randomk's
// unbiasedness, and every kind of corrupt payload as GW_ERR_CORRUPT.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tests/unit/codec_test_util.h"
#include "compressors/randomk/randomk.h"
#include "src/spec/registry.h"
#include "compressors/topk/index_coding.h"
#include "compressors/topk/topk.h"

namespace gw {
namespace {

using test::gaussian;
using test::kInf;
using test::kNaN;
using test::status_of;

std::shared_ptr<const TopkCompressor> topk_codec(const std::string& spec) {
  return std::dynamic_pointer_cast<const TopkCompressor>(make_compressor(spec));
}

// The k indices of largest |x|, ties toward lower index, ascending (brute force).
std::vector<uint32_t> brute_topk(const std::vector<float>& x, size_t k) {
  std::vector<uint32_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    return topk::magnitude_key(x[a]) > topk::magnitude_key(x[b]);
  });
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<uint32_t> selected(const std::vector<float>& x, size_t k, topk::Select mode, uint64_t key,
                               topk::SelectStats* st = nullptr) {
  std::vector<uint32_t> idx(k);
  topk::select(x.data(), x.size(), k, mode, key, idx.data(), st);
  return idx;
}

std::vector<uint8_t> encode_bytes(const Compressor& c, const std::vector<float>& x, uint64_t key = 7) {
  std::vector<uint8_t> out(c.encoded_bytes(x.size()) + 16, 0xee);
  bool nf = false;
  const size_t got = c.encode(x.data(), x.size(), out.data(), key, &nf);
  EXPECT_LE(got, c.encoded_bytes(x.size()));
  for (size_t i = c.encoded_bytes(x.size()); i < out.size(); ++i) EXPECT_EQ(out[i], 0xee) << "wrote past the bound";
  out.resize(got);
  return out;
}

TEST(TopkSelect, ExactAndSampledPickTheTrueTopKWithTiesTowardLowerIndices) {
  std::mt19937 gen(5);
  for (size_t n : {size_t(1), size_t(2), size_t(7), size_t(997), size_t(4096), size_t(100003)}) {
    for (double density : {0.001, 0.01, 0.3, 1.0}) {
      std::vector<float> x = gaussian(n, static_cast<uint32_t>(n));
      // Ties: a third of the values on a coarse grid, with both signs.
      for (size_t i = 0; i < n; i += 3) x[i] = std::round(x[i] * 4.0f) / 4.0f;
      const size_t k = topk::k_for(n, density);
      const std::vector<uint32_t> want = brute_topk(x, k);
      EXPECT_EQ(selected(x, k, topk::Select::kExact, 1), want) << n << " " << density;
      for (CpuIsa isa : test::runnable_isas()) {  // the survivor scan has an AVX2 path
        test::IsaGuard guard(isa);
        EXPECT_EQ(selected(x, k, topk::Select::kSample, 1), want) << n << " " << density << " " << cpu_isa_name(isa);
      }
    }
  }
}

TEST(TopkSelect, AllEqualAndNonfiniteValues) {
  std::vector<float> same(1000, -0.5f);
  for (topk::Select m : {topk::Select::kExact, topk::Select::kSample}) {
    std::vector<uint32_t> idx = selected(same, 10, m, 3);
    for (uint32_t j = 0; j < 10; ++j) EXPECT_EQ(idx[j], j);  // ties: the lowest indices
  }
  std::vector<float> x = gaussian(5000, 9);
  x[4000] = kNaN;
  x[17] = -kInf;
  std::vector<uint32_t> idx = selected(x, 2, topk::Select::kExact, 3);
  EXPECT_EQ(idx, (std::vector<uint32_t>{17, 4000}));  // NaN and Inf rank above every finite value
  EXPECT_EQ(selected(x, 2, topk::Select::kSample, 3), idx);
}

TEST(TopkSelect, SampledThresholdKeepsBetween08And13KBeforeTheExactTrim) {
  for (uint64_t key = 1; key <= 20; ++key) {
    std::vector<float> x = gaussian(1 << 20, static_cast<uint32_t>(key));
    const size_t k = topk::k_for(x.size(), 0.01);
    topk::SelectStats st;
    selected(x, k, topk::Select::kSample, key, &st);
    EXPECT_FALSE(st.fell_back) << key;
    EXPECT_GE(st.survivors, static_cast<size_t>(0.8 * k)) << key;
    EXPECT_LE(st.survivors, static_cast<size_t>(1.3 * k)) << key;
  }
}

TEST(TopkCodec, CanonicalSpecsAndKs) {
  EXPECT_EQ(make_scheme("topk")->spec, "topk:density=0.01,select=sample,ef=1");
  EXPECT_EQ(make_scheme("topk:ef=0")->spec, "topk:density=0.01,select=sample,ef=0");
  EXPECT_EQ(make_scheme("topk:density=0.5,select=sample,index=raw,ef=ef21")->spec,
            "topk:density=0.5,select=sample,index=raw,ef=ef21");
  EXPECT_EQ(make_scheme("maxmin:ef=1")->spec, "maxmin:bits=4,bucket=512,ef=1");
  EXPECT_EQ(make_scheme("maxmin")->spec, "maxmin:bits=4,bucket=512");
  EXPECT_EQ(make_scheme("maxmin:ef=0")->spec, "maxmin:bits=4,bucket=512");
  EXPECT_EQ(make_scheme("randomk:density=0.25")->spec, "randomk:density=0.25");
  std::string what;
  EXPECT_EQ(status_of([] { make_scheme("topk:ef=2"); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(what.find("ef"), std::string::npos) << what;
  EXPECT_EQ(status_of([] { make_scheme("topk:density=0"); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status_of([] { make_scheme("topk:density=1.5"); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(topk::k_for(100, 0.01), 1u);
  EXPECT_EQ(topk::k_for(101, 0.01), 2u);
  EXPECT_EQ(topk::k_for(5, 1e-6), 1u);
  EXPECT_EQ(topk::k_for(0, 0.5), 0u);
  EXPECT_TRUE(make_compressor("topk")->traits().whole_layer);
  EXPECT_TRUE(make_compressor("randomk")->traits().shared_key);
}

// Each index coding decodes to the selected values, zeros elsewhere; the
// encoder picks the smallest.
TEST(TopkCodec, EveryIndexCodingRoundTrips) {
  struct Case {
    size_t n;
    double density;
    const char* extra;
    topk::IndexFormat want;
  } cases[] = {{100000, 0.01, "", topk::IndexFormat::kVarint},
               {100000, 0.3, "", topk::IndexFormat::kBitmap},
               {100000, 0.01, ",index=raw", topk::IndexFormat::kRaw},
               {5, 1.0, "", topk::IndexFormat::kBitmap},
               {3000, 0.001, "", topk::IndexFormat::kVarint},
               {1, 1.0, ",index=raw", topk::IndexFormat::kRaw}};
  for (const Case& c : cases) {
    auto codec = topk_codec(std::string("topk:density=") + std::to_string(c.density) + c.extra);
    std::vector<float> x = gaussian(c.n, 4);
    std::vector<uint8_t> p = encode_bytes(*codec, x);
    ASSERT_GE(p.size(), kTopkHeaderBytes);
    EXPECT_EQ(static_cast<topk::IndexFormat>(p[0]), c.want) << c.n << " " << c.density;
    const size_t k = codec->k(c.n);
    EXPECT_EQ(codec->payload_extent(p.data(), p.size(), c.n), p.size());
    std::vector<float> want(c.n, 0.0f);
    for (uint32_t i : brute_topk(x, k)) want[i] = x[i];
    std::vector<float> got(c.n, 99.0f), acc(c.n, 1.0f);
    codec->decode(p.data(), p.size(), c.n, got.data());
    EXPECT_TRUE(test::same_bits(got, want));
    codec->decode_add(p.data(), p.size(), c.n, acc.data());
    for (size_t i = 0; i < c.n; ++i) ASSERT_EQ(acc[i], 1.0f + want[i]) << i;
    if (c.want == topk::IndexFormat::kRaw) EXPECT_EQ(p.size(), codec->encoded_bytes(c.n));
  }
}

TEST(TopkCodec, NonfiniteInputIsReported) {
  auto codec = topk_codec("topk:density=0.01");
  std::vector<float> x = gaussian(1000, 2);
  std::vector<uint8_t> out(codec->encoded_bytes(x.size()));
  bool nf = false;
  codec->encode(x.data(), x.size(), out.data(), 1, &nf);
  EXPECT_FALSE(nf);
  x[500] = kNaN;
  codec->encode(x.data(), x.size(), out.data(), 1, &nf);
  EXPECT_TRUE(nf);
}

// Rewrites a raw payload's index j.
void set_index(std::vector<uint8_t>& p, size_t j, uint32_t v) { std::memcpy(&p[kTopkHeaderBytes + 4 * j], &v, 4); }

TEST(TopkCodec, CorruptPayloadsAreNamedErrorsAndWriteNothingOutside) {
  const size_t n = 1000;
  auto raw = topk_codec("topk:density=0.01,index=raw");
  auto packed = topk_codec("topk:density=0.01");
  auto dense = topk_codec("topk:density=0.4");
  std::vector<float> x = gaussian(n, 8);
  const std::vector<uint8_t> good = encode_bytes(*raw, x), varint = encode_bytes(*packed, x),
                             bitmap = encode_bytes(*dense, x);
  ASSERT_EQ(static_cast<topk::IndexFormat>(varint[0]), topk::IndexFormat::kVarint);
  ASSERT_EQ(static_cast<topk::IndexFormat>(bitmap[0]), topk::IndexFormat::kBitmap);
  struct Bad {
    const char* what;
    std::shared_ptr<const TopkCompressor> codec;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  std::vector<Bad> bad;
  auto with = [&](const char* what, std::shared_ptr<const TopkCompressor> c, std::vector<uint8_t> b, const char* m) {
    bad.push_back({what, std::move(c), std::move(b), m});
  };
  {
    auto p = good;
    set_index(p, 3, static_cast<uint32_t>(n));
    with("index at n", raw, p, "out of range");
  }
  {
    auto p = good;
    set_index(p, 3, 0xffffffffu);
    with("index far out", raw, p, "out of range");
  }
  {
    auto p = good;
    uint32_t prev;
    std::memcpy(&prev, &p[kTopkHeaderBytes + 4 * 2], 4);
    set_index(p, 3, prev);
    with("repeated index", raw, p, "repeated or out of order");
  }
  {
    auto p = good;
    set_index(p, 3, 0);
    with("unsorted index", raw, p, "repeated or out of order");
  }
  {
    auto p = good;
    p[4] += 1;  // k
    with("k off by one", raw, p, "expected");
  }
  {
    auto p = good;
    p[8] += 4;  // section length past the payload
    with("section too long", raw, p, "");
  }
  {
    auto p = good;
    p.push_back(0);
    with("trailing byte", raw, p, "");
  }
  {
    auto p = good;
    p.resize(p.size() - 1);
    with("truncated", raw, p, "");
  }
  {
    auto p = good;
    p[0] = 9;
    with("unknown format", raw, p, "unknown index format");
  }
  {
    auto p = varint;
    p[kTopkHeaderBytes + 1] = 0;  // a zero delta: a repeated index
    with("varint zero delta", packed, p, "");
  }
  {
    auto p = bitmap;
    p[kTopkHeaderBytes + (n - 1) / 8] |= 0x80;  // one more bit set (n = 1000: bit 1007 is past n)
    with("bitmap bit past n", dense, p, "");
  }
  {
    std::vector<uint8_t> p(kTopkHeaderBytes - 1, 0);
    with("shorter than a header", raw, p, "");
  }
  for (const Bad& b : bad) {
    std::vector<float> out(n + 8, 5.0f), acc(n + 8, 5.0f);
    std::string what;
    EXPECT_EQ(status_of([&] { b.codec->decode(b.bytes.data(), b.bytes.size(), n, out.data()); }, &what),
              GW_ERR_CORRUPT)
        << b.what;
    EXPECT_NE(what.find(b.message), std::string::npos) << b.what << ": " << what;
    EXPECT_EQ(status_of([&] { b.codec->decode_add(b.bytes.data(), b.bytes.size(), n, acc.data()); }), GW_ERR_CORRUPT)
        << b.what;
    for (size_t i = n; i < n + 8; ++i) ASSERT_EQ(out[i], 5.0f) << b.what;
    for (size_t i = n; i < n + 8; ++i) ASSERT_EQ(acc[i], 5.0f) << b.what;
  }
}

// sum_t D(C(g_t + e_t)) + e_T == sum_t g_t: error feedback loses nothing.
void expect_nothing_lost(const Compressor& c) {
  const size_t n = 4099, steps = 30;
  std::vector<float> e(n, 0.0f), sent(n, 0.0f), decoded(n);
  std::vector<double> inputs(n, 0.0);
  std::vector<uint8_t> payload(c.encoded_bytes(n));
  for (size_t t = 0; t < steps; ++t) {
    std::vector<float> g = gaussian(n, static_cast<uint32_t>(100 + t));
    for (size_t i = 0; i < n; ++i) inputs[i] += g[i];
    bool nf = false;
    const size_t bytes = c.encode_feedback(g.data(), e.data(), n, Feedback::kResidual, payload.data(), t, &nf);
    c.decode_add(payload.data(), bytes, n, sent.data());
  }
  double worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(sent[i] + e[i] - inputs[i]));
  EXPECT_LT(worst, 2e-4) << c.spec();  // fp32 accumulation of 30 steps
}

TEST(ErrorFeedback, NothingIsLostForTopkAndMaxmin) {
  expect_nothing_lost(*make_compressor("topk:density=0.01"));
  expect_nothing_lost(*make_compressor("topk:density=0.05,select=sample"));
  expect_nothing_lost(*make_compressor("maxmin:bits=2"));
  // (Not qsgd at 2 bits: its error can exceed the value, so e = x - D(C(x)) is
  // not contractive and the residual grows; error feedback wants a biased,
  // contractive codec. README: "Error feedback".)
}

// topk's fused pass == the generic encode / decode / update of the base class.
TEST(ErrorFeedback, TopkFusedEqualsTheGenericPath) {
  auto c = topk_codec("topk:density=0.02,index=raw");
  const size_t n = 5003;
  for (Feedback mode : {Feedback::kResidual, Feedback::kEf21}) {
    std::vector<float> s1 = gaussian(n, 1, 0.3f), s2 = s1;
    for (int t = 0; t < 3; ++t) {
      std::vector<float> g = gaussian(n, 10 + t);
      std::vector<uint8_t> p1(c->encoded_bytes(n)), p2(c->encoded_bytes(n));
      bool nf = false;
      const size_t b1 = c->encode_feedback(g.data(), s1.data(), n, mode, p1.data(), 3, &nf);
      const size_t b2 = c->Compressor::encode_feedback(g.data(), s2.data(), n, mode, p2.data(), 3, &nf);
      ASSERT_EQ(b1, b2);
      ASSERT_EQ(p1, p2) << static_cast<int>(mode);
      ASSERT_TRUE(test::same_bits(s1, s2)) << static_cast<int>(mode);
    }
  }
}

TEST(Randomk, UnbiasedWithSharedStratifiedPositions) {
  auto c = make_compressor("randomk:density=0.1");
  const size_t n = 1003;
  const std::vector<float> x = gaussian(n, 12);
  const int trials = 4000;
  std::vector<double> mean(n, 0.0), sq(n, 0.0);
  std::vector<float> y(n);
  for (int t = 0; t < trials; ++t) {
    std::vector<uint8_t> p = encode_bytes(*c, x, static_cast<uint64_t>(t) * 7919 + 1);
    ASSERT_EQ(p.size(), 8 + 4 * topk::k_for(n, 0.1));
    c->decode(p.data(), p.size(), n, y.data());
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) {
      mean[i] += y[i];
      sq[i] += static_cast<double>(y[i]) * y[i];
      nonzero += y[i] != 0.0f;
    }
    ASSERT_LE(nonzero, topk::k_for(n, 0.1));
  }
  // Each value is kept with probability 1/len and weighted len (len ~ 10): the
  // mean of `trials` draws has standard deviation |x| sqrt((len - 1) / trials).
  for (size_t i = 0; i < n; ++i) {
    const double m = mean[i] / trials, sd = std::fabs(x[i]) * std::sqrt(11.0 / trials);
    ASSERT_NEAR(m, x[i], 5 * sd + 1e-6) << i;
  }
  // Same key, same positions: two inputs' payloads sum like dense vectors.
  std::vector<float> a = gaussian(n, 1), b = gaussian(n, 2), ab(n);
  for (size_t i = 0; i < n; ++i) ab[i] = a[i] + b[i];
  std::vector<uint8_t> pa = encode_bytes(*c, a, 42), pb = encode_bytes(*c, b, 42), pab = encode_bytes(*c, ab, 42);
  std::vector<float> sum(n, 0.0f), direct(n);
  c->decode_add(pa.data(), pa.size(), n, sum.data());
  c->decode_add(pb.data(), pb.size(), n, sum.data());
  c->decode(pab.data(), pab.size(), n, direct.data());
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(sum[i], direct[i], 1e-4 * (1 + std::fabs(direct[i])));
  test::expect_wrong_byte_counts_corrupt(*c);
}

// The quantizers' payloads are what they were before the scheme layer
// (FNV-1a of the payloads of fixed inputs, recorded before it, on every CPU path).
TEST(GoldenPayloads, QuantizersAreUnchanged) {
  // Integer arithmetic and one correctly rounded division: the same floats on every platform.
  std::vector<float> x(10007);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(static_cast<int>((i * 2654435761u) % 20001u) - 10000) / 3000.0f;
  struct Golden {
    const char* spec;
    size_t bytes;
    uint64_t fnv;
  } golden[] = {{"maxmin:bits=4,bucket=512", 5164, 0x54423abcee8d49ceull},
                {"maxmin:bits=2,bucket=128", 3134, 0x9b9abaf462b17493ull},
                {"qsgd:bits=4", 5084, 0x62250d06034dbef2ull},
                {"nuq:bits=4", 5084, 0xf642d34e956c120eull},
                {"fp16", 20014, 0x1349e0a48c647eaeull},
                {"bf16", 20014, 0x14b8ec92cca4fff3ull},
                {"none", 40028, 0x1d9550ccceed9540ull}};
  for (const Golden& g : golden) {
    for (CpuIsa isa : test::runnable_isas()) {
      test::IsaGuard guard(isa);
      std::vector<uint8_t> p = encode_bytes(*make_compressor(g.spec), x, 0x1234);
      uint64_t h = 1469598103934665603ull;  // FNV-1a
      for (uint8_t b : p) h = (h ^ b) * 1099511628211ull;
      EXPECT_EQ(p.size(), g.bytes) << g.spec;
      EXPECT_EQ(h, g.fnv) << g.spec << " on " << cpu_isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace gw
