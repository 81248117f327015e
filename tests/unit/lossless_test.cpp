// The lossless stage (compressors/lossless/): spec handling, bit-identical round
// trips against the inner codec, sizes, self-delimiting payloads, and damaged /
// truncated payloads (GW_ERR_CORRUPT, never out of bounds).
#include "compressors/lossless/lossless.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/codec_test_util.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

using test::bits_of;
using test::same_bits;
using test::status_of;

// Laplace-like values with a per-block scale spread over 3 decades and a few
// outliers: closer to real gradients than a Gaussian.
std::vector<float> heavy_tailed(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::exponential_distribution<float> e(1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  float scale = 1e-3f;
  for (size_t i = 0; i < n; ++i) {
    if (i % 300 == 0) scale = std::pow(10.0f, -4.0f + 3.0f * u(g));
    float x = e(g) * scale * (u(g) < 0.5f ? -1.0f : 1.0f);
    if (u(g) < 0.001f) x *= 50.0f;
    v[i] = x;
  }
  return v;
}

std::vector<std::string> inner_specs() {
  std::vector<std::string> s;
  for (int bits : {2, 3, 4, 8}) {
    for (int bucket : {64, 200, 512}) {
      const std::string tail = "bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket);
      s.push_back("qsgd:" + tail);
      s.push_back("qsgd:" + tail + ",norm=max");
      s.push_back("nuq:" + tail);
      s.push_back("maxmin:" + tail);
    }
  }
  s.push_back("maxmin:bits=1,bucket=64");
  s.push_back("maxmin:bits=1,bucket=512");
  return s;
}

std::vector<const char*> modes() {
  std::vector<const char*> m = {"elias"};
  if (lossless_zstd_available()) m.push_back("zstd");
  return m;
}

TEST(LosslessSpec, CanonicalSpecs) {
  auto e = make_compressor("qsgd:bits=4,bucket=512,lossless=elias");
  EXPECT_EQ(e->spec(), "qsgd:bits=4,bucket=512,norm=l2,lossless=elias");
  EXPECT_FALSE(e->traits().fixed_size);
  EXPECT_TRUE(e->traits().unbiased);
  EXPECT_EQ(make_compressor("qsgd:lossless=elias,bucket=512").get(), e.get());  // one object per canonical spec
  EXPECT_EQ(make_compressor("nuq:lossless=elias,bits=3")->spec(), "nuq:bits=3,bucket=512,lossless=elias");
  EXPECT_EQ(make_compressor("maxmin:bits=2,lossless=elias")->spec(), "maxmin:bits=2,bucket=512,lossless=elias");
  // lossless=none is the default and stays out of the canonical spec (hashes unchanged).
  EXPECT_EQ(make_compressor("qsgd:lossless=none")->spec(), "qsgd:bits=4,bucket=512,norm=l2");
  EXPECT_EQ(make_compressor("qsgd:lossless=none").get(), make_compressor("qsgd").get());
  EXPECT_TRUE(make_compressor("maxmin:bits=4,lossless=none")->traits().fixed_size);
  EXPECT_EQ(make_compressor("none:lossless=none")->spec(), "none");
  // Wire ids differ from the inner codec's and between modes.
  EXPECT_NE(e->id(), make_compressor("qsgd")->id());
  if (lossless_zstd_available()) {
    auto z = make_compressor("nuq:bits=4,lossless=zstd");
    EXPECT_EQ(z->spec(), "nuq:bits=4,bucket=512,lossless=zstd");
    EXPECT_NE(z->id(), make_compressor("nuq:bits=4,lossless=elias")->id());
    EXPECT_FALSE(z->traits().fixed_size);
  }
}

TEST(LosslessSpec, BadSpecsNameTheKey) {
  std::string what;
  EXPECT_EQ(status_of([] { make_compressor("qsgd:lossless=gzip"); }, &what), GW_ERR_INVALID_ARGUMENT);
  EXPECT_NE(what.find("lossless"), std::string::npos) << what;
  for (const char* s : {"fp16:lossless=zstd", "none:lossless=elias", "bf16:lossless=elias"}) {
    EXPECT_EQ(status_of([&] { make_compressor(s); }, &what), GW_ERR_INVALID_ARGUMENT) << s;
    EXPECT_NE(what.find("lossless"), std::string::npos) << what;
  }
  EXPECT_EQ(status_of([] { make_compressor("qsgd:lossless=elias,lossless=zstd"); }), GW_ERR_INVALID_ARGUMENT);
}

TEST(LosslessSpec, ZstdWithoutLibzstdIsUnsupported) {
  gw_status st = status_of([] { make_compressor("qsgd:lossless=zstd"); });
  EXPECT_EQ(st, lossless_zstd_available() ? GW_SUCCESS : GW_ERR_UNSUPPORTED);
}

// Encodes x with both codecs and checks size bounds and bit-identical decode
// and decode_add; returns the wrapped payload.
std::vector<uint8_t> check_round_trip(const Compressor& inner, const Compressor& wrapped, const std::vector<float>& x,
                                      uint64_t key, const std::string& what) {
  const size_t n = x.size();
  std::vector<uint8_t> ip(inner.encoded_bytes(n));
  bool inf = false, wnf = false;
  inner.encode(x.data(), n, ip.data(), key, &inf);
  const size_t cap = wrapped.encoded_bytes(n);
  std::vector<uint8_t> wp(cap + 16, 0xee);
  const size_t got = wrapped.encode(x.data(), n, wp.data(), key, &wnf);
  EXPECT_LE(got, cap) << what;
  for (size_t i = cap; i < cap + 16; ++i) EXPECT_EQ(wp[i], 0xee) << what << ": wrote past encoded_bytes";
  wp.resize(got);
  EXPECT_EQ(inf, wnf) << what;
  EXPECT_EQ(wrapped.payload_extent(wp.data(), wp.size(), n), got) << what;
  std::vector<float> a(n + 1, 7.0f), b(n + 1, 7.0f);
  inner.decode(ip.data(), ip.size(), n, a.data());
  wrapped.decode(wp.data(), wp.size(), n, b.data());
  EXPECT_TRUE(same_bits(a, b)) << what;
  std::vector<float> acc(n, 0.25f);
  std::vector<float> c = acc, d = acc;
  inner.decode_add(ip.data(), ip.size(), n, c.data());
  wrapped.decode_add(wp.data(), wp.size(), n, d.data());
  EXPECT_TRUE(same_bits(c, d)) << what;
  return wp;
}

TEST(Lossless, RoundTripIsBitIdenticalToTheInnerCodec) {
  for (const std::string& spec : inner_specs()) {
    auto inner = make_compressor(spec);
    for (const char* mode : modes()) {
      auto wrapped = make_compressor(spec + ",lossless=" + mode);
      for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(65), size_t(777), size_t(4097)}) {
        for (int data = 0; data < 3; ++data) {
          std::vector<float> x = data == 0   ? test::gaussian(n, static_cast<uint32_t>(n) + 1)
                                 : data == 1 ? heavy_tailed(n, static_cast<uint32_t>(n) + 2)
                                             : std::vector<float>(n, 0.0f);
          const std::string what = wrapped->spec() + " n=" + std::to_string(n) + " data=" + std::to_string(data);
          ASSERT_NO_FATAL_FAILURE(check_round_trip(*inner, *wrapped, x, 0x1234 + n, what));
        }
      }
    }
  }
}

TEST(Lossless, NonfiniteBucketsRoundTrip) {
  for (const char* spec : {"qsgd:bits=4,bucket=64", "nuq:bits=5,bucket=64", "maxmin:bits=3,bucket=64"}) {
    auto inner = make_compressor(spec);
    for (const char* mode : modes()) {
      auto wrapped = make_compressor(std::string(spec) + ",lossless=" + mode);
      std::vector<float> x = test::gaussian(300, 9);
      x[5] = test::kNaN;
      x[130] = -test::kInf;
      check_round_trip(*inner, *wrapped, x, 77, wrapped->spec());
    }
  }
}

TEST(Lossless, EliasBeatsFixedBitsWhereLevelsAreSmall) {
  // qsgd norm=l2: most levels are 0 or 1, so sign + gamma(level+1) is ~2 bits.
  const size_t n = 1 << 16;
  std::vector<float> x = test::gaussian(n, 5);
  for (const char* spec : {"qsgd:bits=4,bucket=512", "qsgd:bits=8,bucket=512"}) {
    auto inner = make_compressor(spec);
    auto wrapped = make_compressor(std::string(spec) + ",lossless=elias");
    std::vector<uint8_t> wp = check_round_trip(*inner, *wrapped, x, 3, spec);
    EXPECT_LT(wp.size(), inner->encoded_bytes(n) * 3 / 4) << spec;
  }
  // Uniform data at 8 bits gains nothing: the payload is stored, 4 bytes more.
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> y(n);
  for (auto& v : y) v = u(g);
  auto inner = make_compressor("maxmin:bits=8,bucket=512");
  auto wrapped = make_compressor("maxmin:bits=8,bucket=512,lossless=elias");
  std::vector<uint8_t> wp = check_round_trip(*inner, *wrapped, y, 3, "uniform");
  EXPECT_EQ(wp.size(), inner->encoded_bytes(n) + 4);
}

TEST(Lossless, PiecesBackToBackAreWalkedByTheirPrefix) {
  for (const char* mode : modes()) {
    auto c = make_compressor(std::string("qsgd:bits=3,bucket=128,lossless=") + mode);
    std::vector<size_t> counts = {1000, 0, 129, 5000, 64};
    std::vector<std::vector<float>> xs;
    std::vector<uint8_t> msg;
    for (size_t i = 0; i < counts.size(); ++i) {
      xs.push_back(heavy_tailed(counts[i], static_cast<uint32_t>(i)));
      std::vector<uint8_t> p(c->encoded_bytes(counts[i]));
      p.resize(c->encode(xs[i].data(), counts[i], p.data(), i, nullptr));
      msg.insert(msg.end(), p.begin(), p.end());
    }
    size_t off = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      const size_t len = c->payload_extent(msg.data() + off, msg.size() - off, counts[i]);
      std::vector<float> y(counts[i]);
      c->decode(msg.data() + off, len, counts[i], y.data());
      std::vector<uint8_t> p(c->encoded_bytes(counts[i]));
      p.resize(c->encode(xs[i].data(), counts[i], p.data(), i, nullptr));
      std::vector<float> z(counts[i]);
      c->decode(p.data(), p.size(), counts[i], z.data());
      EXPECT_TRUE(same_bits(y, z)) << mode << " piece " << i;
      off += len;
    }
    EXPECT_EQ(off, msg.size());
  }
}

// A valid payload of each mode and layout kind, for the damage tests.
std::vector<std::pair<std::string, std::vector<uint8_t>>> sample_payloads(size_t n) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  std::vector<float> x = heavy_tailed(n, 42);
  for (const char* spec : {"qsgd:bits=4,bucket=128", "nuq:bits=3,bucket=64", "maxmin:bits=2,bucket=256"}) {
    for (const char* mode : modes()) {
      const std::string s = std::string(spec) + ",lossless=" + mode;
      auto c = make_compressor(s);
      std::vector<uint8_t> p(c->encoded_bytes(n));
      p.resize(c->encode(x.data(), n, p.data(), 1, nullptr));
      EXPECT_LT(p.size(), c->encoded_bytes(n) - 4) << s << ": expected a coded (not stored) payload";
      out.emplace_back(s, p);
    }
  }
  return out;
}

TEST(LosslessCorrupt, TruncatedAndOverlongPayloads) {
  const size_t n = 1500;
  for (auto& sp : sample_payloads(n)) {
    auto c = make_compressor(sp.first);
    const std::vector<uint8_t>& p = sp.second;
    std::vector<float> y(n);
    std::string what;
    // Every shorter length: the prefix no longer fits.
    for (size_t len = 0; len < p.size(); len += (len < 16 ? 1 : 37)) {
      std::vector<uint8_t> cut(p.begin(), p.begin() + len);  // exact-size buffer
      EXPECT_EQ(status_of([&] { c->decode(cut.data(), cut.size(), n, y.data()); }, &what), GW_ERR_CORRUPT)
          << sp.first << " len " << len;
      EXPECT_EQ(status_of([&] { c->payload_extent(cut.data(), cut.size(), n); }), GW_ERR_CORRUPT) << len;
    }
    // Trailing bytes after the announced body.
    std::vector<uint8_t> longer = p;
    longer.push_back(0);
    EXPECT_EQ(status_of([&] { c->decode(longer.data(), longer.size(), n, y.data()); }), GW_ERR_CORRUPT);
    EXPECT_EQ(c->payload_extent(longer.data(), longer.size(), n), p.size());
    // A body shortened consistently (prefix fixed up): the codes run out.
    for (size_t drop : {size_t(1), size_t(7), p.size() / 2, p.size() - 4}) {
      std::vector<uint8_t> q(p.begin(), p.end() - drop);
      uint32_t w = static_cast<uint32_t>(q.size() - 4);
      memcpy(q.data(), &w, 4);
      EXPECT_EQ(status_of([&] { c->decode(q.data(), q.size(), n, y.data()); }, &what), GW_ERR_CORRUPT)
          << sp.first << " drop " << drop;
    }
    // A body lengthened consistently: trailing bytes inside the body.
    std::vector<uint8_t> q = p;
    q.insert(q.end(), 3, 0x55);
    uint32_t w = static_cast<uint32_t>(q.size() - 4);
    memcpy(q.data(), &w, 4);
    EXPECT_EQ(status_of([&] { c->decode(q.data(), q.size(), n, y.data()); }, &what), GW_ERR_CORRUPT) << sp.first;
    // "Stored" flag with a body that is not the inner payload's size.
    q = p;
    w = static_cast<uint32_t>(q.size() - 4) | (1u << 31);
    memcpy(q.data(), &w, 4);
    EXPECT_EQ(status_of([&] { c->decode(q.data(), q.size(), n, y.data()); }, &what), GW_ERR_CORRUPT) << sp.first;
    // Wrong element count for the payload.
    EXPECT_NE(status_of([&] {
                std::vector<float> z(n + 1000);
                c->decode(p.data(), p.size(), n + 1000, z.data());
              }),
              GW_SUCCESS)
        << sp.first;
  }
}

TEST(LosslessCorrupt, RandomDamageIsCorruptOrDecodes) {
  const size_t n = 1000;
  std::mt19937 g(7);
  for (auto& sp : sample_payloads(n)) {
    auto c = make_compressor(sp.first);
    std::vector<float> y(n + 8, 3.0f);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> q = sp.second;
      const int flips = 1 + trial % 4;
      for (int f = 0; f < flips; ++f) q[4 + g() % (q.size() - 4)] ^= static_cast<uint8_t>(1u << (g() % 8));
      gw_status st = status_of([&] { c->decode(q.data(), q.size(), n, y.data()); });
      EXPECT_TRUE(st == GW_SUCCESS || st == GW_ERR_CORRUPT) << sp.first << " " << gw_status_string(st);
      for (size_t i = n; i < n + 8; ++i) ASSERT_EQ(y[i], 3.0f) << "wrote past n";
    }
    // Pure junk of every small length.
    for (size_t len = 0; len < 300; ++len) {
      std::vector<uint8_t> junk(len);
      for (auto& b : junk) b = static_cast<uint8_t>(g());
      gw_status st = status_of([&] { c->decode(junk.data(), junk.size(), n, y.data()); });
      EXPECT_TRUE(st == GW_SUCCESS || st == GW_ERR_CORRUPT) << sp.first << " len " << len;
    }
  }
}

}  // namespace
}  // namespace gw
