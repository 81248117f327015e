// lattice's codes on one process: a payload decodes exactly (the sender's own
// integers) against any reference within eps (q/2 - 1), whatever the common
// offset; a unit farther away fails its check and only that unit is reported;
// the decoded values are unbiased over keys; damaged payloads are
// GW_ERR_CORRUPT; NaN units decode to NaN; specs and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "compressors/lattice/lattice.h"
#include "src/common/cpu_features.h"
#include "src/common/error.h"
#include "src/spec/registry.h"

#include "tests/unit/codec_test_util.h"

namespace gw {
namespace {

using lattice::kUnit;

// A round vector of the lattice codes: [spacing of each unit][values].
std::vector<float> round_vector(const std::vector<float>& values, float eps) {
  const size_t units = (values.size() + kUnit - 1) / kUnit;
  std::vector<float> v(units, eps);
  v.insert(v.end(), values.begin(), values.end());
  return v;
}

struct Decoded {
  std::vector<float> out;
  std::vector<uint32_t> missed;
};

Decoded decode_near(const LatticeCodes& c, const std::vector<uint8_t>& payload, const std::vector<float>& ref) {
  Decoded d;
  d.out.assign(ref.size() + 4, 12345.0f);
  c.decode_near(payload.data(), payload.size(), ref.size(), ref.data(), d.out.data(), false, &d.missed);
  for (size_t i = ref.size(); i < ref.size() + 4; ++i) EXPECT_EQ(d.out[i], 12345.0f) << "wrote past n";
  d.out.resize(ref.size());
  return d;
}

std::vector<uint8_t> encode(const LatticeCodes& c, const std::vector<float>& x, uint64_t key, bool* nf = nullptr) {
  std::vector<uint8_t> p(c.encoded_bytes(x.size()));
  bool nonfinite = false;
  EXPECT_EQ(c.encode(x.data(), x.size(), p.data(), key, &nonfinite), p.size());
  if (nf) *nf = nonfinite;
  return p;
}

TEST(Lattice, DecodesExactlyNearAnyOffset) {
  const size_t d = 3 * kUnit + 123;
  for (int bits : {2, 4, 8}) {
    LatticeCodes c(bits);
    const float eps = 0.01f, reach = eps * ((1 << bits) / 2 - 1);
    for (float offset : {0.0f, 1e6f}) {
      std::vector<float> x = test::gaussian(d, 1, 1.0f, offset), w = x;
      // The reference: within reach of x in every coordinate (but not equal).
      std::vector<float> jitter = test::gaussian(d, 2);
      for (size_t i = 0; i < d; ++i) w[i] = x[i] + 0.9f * reach * std::tanh(jitter[i]);
      const std::vector<uint8_t> p = encode(c, round_vector(x, eps), 77);
      const Decoded self = decode_near(c, p, round_vector(x, eps));
      const Decoded near = decode_near(c, p, round_vector(w, eps));
      EXPECT_TRUE(self.missed.empty() && near.missed.empty()) << bits << " bits, offset " << offset;
      EXPECT_TRUE(test::same_bits(self.out, near.out)) << bits << " bits, offset " << offset;
      // Within a spacing of x (plus fp32's resolution at the offset).
      double worst = 0;
      for (size_t i = 0; i < d; ++i) worst = std::max(worst, std::fabs(double(near.out[i + 4]) - x[i]));
      EXPECT_LE(worst, eps + std::fabs(offset) * 1.2e-7) << bits << " bits, offset " << offset;
      for (size_t u = 0; u < 4; ++u) EXPECT_EQ(near.out[u], 0.0f) << "spacing slots carry no value";
    }
  }
}

TEST(Lattice, AFarValueFailsOnlyItsUnitsCheck) {
  const size_t d = 3 * kUnit;
  LatticeCodes c(4);
  const float eps = 0.01f;
  std::vector<float> x = test::gaussian(d, 5), w = x;
  x[kUnit + 17] += 1.0f;  // unit 1: beyond eps * 7 = 0.07 from the reference, within 16x that
  const Decoded got = decode_near(c, encode(c, round_vector(x, eps), 3), round_vector(w, eps));
  ASSERT_EQ(got.missed, std::vector<uint32_t>({1}));
  // With the spacing the re-send uses (16x) the same value decodes.
  const Decoded again = decode_near(c, encode(c, round_vector(x, 16 * eps), 3), round_vector(w, 16 * eps));
  EXPECT_TRUE(again.missed.empty());
}

TEST(Lattice, UnbiasedOverKeys) {
  const size_t d = 1000;
  LatticeCodes c(3);
  const float eps = 0.5f;
  const std::vector<float> x = test::gaussian(d, 9), v = round_vector(x, eps);
  std::vector<double> mean(d, 0.0);
  const int T = 4000;
  for (int t = 0; t < T; ++t) {
    const Decoded got = decode_near(c, encode(c, v, 1000 + t), v);
    for (size_t i = 0; i < d; ++i) mean[i] += got.out[i + 1] / T;
  }
  // Each decoded value is x + an error in (-eps, eps) of mean 0, variance <= eps^2 / 3
  // (dither and rounding): the mean over T keys is within 5 sigma of x.
  const double bound = 5 * eps / std::sqrt(3.0 * T);
  double worst = 0;
  for (size_t i = 0; i < d; ++i) worst = std::max(worst, std::fabs(mean[i] - x[i]));
  EXPECT_LT(worst, bound);
}

TEST(Lattice, NonfiniteUnitsDecodeToNaN) {
  LatticeCodes c(4);
  std::vector<float> x = test::gaussian(2 * kUnit, 4);
  x[5] = test::kInf;
  bool nf = false;
  const std::vector<uint8_t> p = encode(c, round_vector(x, 0.1f), 1, &nf);
  EXPECT_TRUE(nf);
  x[5] = 0;
  const Decoded got = decode_near(c, p, round_vector(x, 0.1f));
  EXPECT_TRUE(got.missed.empty());
  for (size_t i = 0; i < kUnit; ++i) ASSERT_TRUE(std::isnan(got.out[2 + i]));
  for (size_t i = kUnit; i < 2 * kUnit; ++i) ASSERT_TRUE(std::isfinite(got.out[2 + i]));
}

TEST(Lattice, DamagedPayloadsAreCorrupt) {
  LatticeCodes c(4);
  const std::vector<float> v = round_vector(test::gaussian(1000, 4), 0.1f);
  std::vector<uint8_t> p = encode(c, v, 1);
  std::vector<float> out(v.size());
  std::vector<uint32_t> missed;
  auto status = [&](const std::vector<uint8_t>& bytes) {
    return test::status_of([&] { c.decode_near(bytes.data(), bytes.size(), v.size(), v.data(), out.data(), false, &missed); });
  };
  EXPECT_EQ(status(p), GW_SUCCESS);
  std::vector<uint8_t> shorter(p.begin(), p.end() - 1), longer = p;
  longer.push_back(0);
  EXPECT_EQ(status(shorter), GW_ERR_CORRUPT);
  EXPECT_EQ(status(longer), GW_ERR_CORRUPT);
  for (float bad : {0.0f, -1.0f, test::kInf}) {
    std::vector<uint8_t> q = p;
    std::memcpy(q.data() + 8, &bad, 4);  // unit 0's spacing
    EXPECT_EQ(status(q), GW_ERR_CORRUPT) << bad;
  }
  // A flipped code is caught by the unit's check, not returned as a value.
  std::vector<uint8_t> flipped = p;
  flipped[8 + 8 + 100] ^= 0x10;
  missed.clear();
  EXPECT_EQ(status(flipped), GW_SUCCESS);
  EXPECT_EQ(missed, std::vector<uint32_t>({0}));
}

TEST(Lattice, EveryCpuPathGivesTheSameBits) {
  LatticeCodes c(5);
  std::vector<float> x = test::gaussian(2 * kUnit + 13, 8, 1.0f, 3.0f), w = x;
  std::vector<float> jitter = test::gaussian(x.size(), 9);
  for (size_t i = 0; i < x.size(); ++i) w[i] += 0.05f * jitter[i];
  w[kUnit + 5] = 1e3f;  // unit 1 missed
  w[7] = test::kNaN;    // unit 0 uncheckable, that value NaN
  const std::vector<float> vx = round_vector(x, 0.02f), vw = round_vector(w, 0.02f);
  std::vector<uint8_t> want_payload;
  Decoded want;
  for (CpuIsa isa : test::runnable_isas()) {
    set_cpu_isa_for_testing(isa);
    const std::vector<uint8_t> p = encode(c, vx, 42);
    Decoded got = decode_near(c, p, vw);
    std::vector<float> acc(vw.size(), 1.5f);
    std::vector<uint32_t> missed;
    c.decode_near(p.data(), p.size(), vw.size(), vw.data(), acc.data(), true, &missed);
    EXPECT_EQ(missed, got.missed);
    if (want_payload.empty()) {
      want_payload = p;
      want = got;
      EXPECT_EQ(want.missed, std::vector<uint32_t>({1}));
      EXPECT_TRUE(std::isnan(want.out[3 + 7]));
    } else {
      EXPECT_EQ(p, want_payload) << cpu_isa_name(isa);
      EXPECT_TRUE(test::same_bits(got.out, want.out)) << cpu_isa_name(isa);
      EXPECT_EQ(got.missed, want.missed) << cpu_isa_name(isa);
    }
    for (size_t i = 3; i < vw.size(); ++i)
      if (!std::isnan(got.out[i])) ASSERT_EQ(acc[i], 1.5f + got.out[i]) << i;
  }
  reset_cpu_isa_for_testing();
}

TEST(Lattice, SpecsAndRefusals) {
  EXPECT_EQ(make_compressor("lattice")->spec(), "lattice:bits=4,eps=auto,rotate=1");
  EXPECT_EQ(make_compressor("lattice:bits=8,eps=0.25,rotate=0")->spec(), "lattice:bits=8,eps=0.25,rotate=0");
  EXPECT_EQ(make_compressor("lattice:eps=auto")->spec(), "lattice:bits=4,eps=auto,rotate=1");
  test::expect_specs_refused({"lattice:bits=1", "lattice:bits=9", "lattice:eps=0", "lattice:eps=-1",
                              "lattice:eps=big", "lattice:rotate=2", "lattice:bits=4,ef=1"},
                             [](const char* t) { make_scheme(t); });
}

}  // namespace
}  // namespace gw
