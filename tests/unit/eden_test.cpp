// eden on one process: the Lloyd-Max levels of N(0, 1) (symmetric; 1 bit at
// +-sqrt(2/pi)); normalized MSE on Gaussian data within 5% of the large-d
// limits (bits 1/2/3/4: 0.5708 / 0.1331 / 0.0358 / 0.0096, issue 16); unbiased
// over rotations for a vector that is far from Gaussian, of a count that is not a
// power of two; damaged payload sizes are GW_ERR_CORRUPT; specs and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "compressors/common/hadamard.h"
#include "compressors/eden/eden.h"
#include "src/common/error.h"
#include "src/spec/registry.h"

#include "tests/unit/codec_test_util.h"

namespace gw {
namespace {

TEST(Eden, LloydMaxLevelsOfTheStandardNormal) {
  for (int bits = 1; bits <= 8; ++bits) {
    const std::vector<float>& c = eden::lloyd_max_levels(bits);
    ASSERT_EQ(c.size(), size_t(1) << bits);
    for (size_t j = 0; j < c.size(); ++j) {
      EXPECT_NEAR(c[j], -c[c.size() - 1 - j], 1e-5) << bits;
      if (j) EXPECT_LT(c[j - 1], c[j]);
    }
  }
  EXPECT_NEAR(eden::lloyd_max_levels(1)[1], std::sqrt(2.0 / M_PI), 1e-6);
  EXPECT_NEAR(eden::lloyd_max_levels(2)[3], 1.5104, 1e-3);  // Max (1960), 4 levels: +-0.4528, +-1.5104
}

TEST(Eden, NormalizedMseMatchesTheLargeDimensionLimits) {
  const double limits[] = {0, 0.5708, 0.1331, 0.0358, 0.0096};
  const size_t n = 1 << 18;
  std::mt19937 g(3);
  std::normal_distribution<float> nd;
  std::vector<float> y(n), back(n);
  for (float& v : y) v = nd(g);
  for (int bits = 1; bits <= 4; ++bits) {
    EdenLevels codec(bits);
    std::vector<uint8_t> payload(codec.encoded_bytes(n));
    bool nf = false;
    ASSERT_EQ(codec.encode(y.data(), n, payload.data(), 0, &nf), payload.size());
    codec.decode(payload.data(), payload.size(), n, back.data());
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; ++i) {
      err += (double(back[i]) - y[i]) * (double(back[i]) - y[i]);
      norm += double(y[i]) * y[i];
    }
    EXPECT_NEAR(err / norm, limits[bits], 0.05 * limits[bits]) << bits << " bits";
  }
}

void check_unbiased(const std::vector<float>& x, double max_bias_in_sd, const char* what);

TEST(Eden, UnbiasedOverRotationsForAnyInput) {
  // Non-Gaussian vectors of a count that is not a power of two (padded to 1024).
  const size_t n = 1000;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(int(i % 7) - 3) + 0.5f * std::sin(0.1f * i) + 2.0f;
  check_unbiased(x, 6, "offset sawtooth");
  // A few large spikes: the Hadamard rotation's bias is largest here (documented in eden.h).
  for (size_t i = 0; i < n; ++i) x[i] = (i % 97 == 0 ? 20.0f : 0.0f) + 0.01f * static_cast<float>(i % 7);
  check_unbiased(x, 40, "spikes");
}

void check_unbiased(const std::vector<float>& x, double max_bias_in_sd, const char* what) {
  const size_t n = x.size();
  auto codec = make_compressor("eden:bits=2");
  const RoundCodec* rc = codec->round_codec();
  ASSERT_NE(rc, nullptr);
  const RoundLayout l = rc->layout({}, n, 0, 1);
  ASSERT_EQ(l.rounds, 1);
  const Compressor& wire = *rc->factor_codec();
  const int trials = 3000;
  std::vector<double> mean(n, 0.0);
  double mse = 0, norm = 0;
  for (float v : x) norm += double(v) * v;
  const size_t padded = l.round_elems[0];
  ASSERT_EQ(padded, 1024u);
  std::vector<float> send(padded), sum(padded), out(n);
  std::vector<uint8_t> payload(wire.encoded_bytes(padded));
  for (int t = 0; t < trials; ++t) {
    RoundCall c;
    c.layout = &l;
    c.in = x.data();
    c.out = out.data();
    c.count = n;
    c.ranks = 1;
    c.key = 1000 + static_cast<uint64_t>(t);
    c.send[0] = send.data();
    c.summed[0] = c.summed_rw[0] = sum.data();
    rc->produce(c, 0);
    bool nf = false;
    wire.encode(send.data(), padded, payload.data(), 0, &nf);
    wire.decode(payload.data(), payload.size(), padded, sum.data());
    rc->consume(c, 0);
    for (size_t i = 0; i < n; ++i) {
      mean[i] += out[i] / trials;
      mse += (double(out[i]) - x[i]) * (double(out[i]) - x[i]) / trials;
    }
  }
  // Per coordinate, the mean of `trials` estimates has a standard deviation of
  // sqrt(mse / n / trials) on average; the bias is measured in those, and as a
  // fraction of one estimate's own error (what a user sees: far below it).
  const double sd = std::sqrt(mse / n / trials);
  double worst = 0, bias2 = 0;
  for (size_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(mean[i] - x[i]) / sd);
    bias2 += (mean[i] - x[i]) * (mean[i] - x[i]);
  }
  EXPECT_LT(worst, max_bias_in_sd) << what;
  EXPECT_LT(bias2, 0.05 * mse * n) << what << ": squared bias against the estimate's error";
  EXPECT_LT(mse / norm, 0.2) << what;  // 2 bits: about 0.13 once rotated, whatever the input
  std::printf("%s: worst bias %.1f sd of the mean, squared bias / mse %.4f, nmse %.4f\n", what, worst,
              bias2 / (mse * n), mse / norm);
}

TEST(Eden, DamagedPayloadSizesAreCorruptAndSpecsAreChecked) {
  EdenLevels codec(3);
  const size_t n = 5000;
  std::vector<float> x(n, 1.0f), out(n, 0.0f);
  std::vector<uint8_t> p(codec.encoded_bytes(n) + 8);
  bool nf = false;
  const size_t bytes = codec.encode(x.data(), n, p.data(), 0, &nf);
  EXPECT_EQ(bytes, 4 + (5000 * 3 + 7) / 8);  // one bucket (16 Ki)
  for (size_t bad : {bytes - 1, bytes + 1, size_t(0)}) {
    try {
      codec.decode_add(p.data(), bad, n, out.data());
      ADD_FAILURE() << "accepted " << bad << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_CORRUPT);
    }
  }
  for (float v : out) EXPECT_EQ(v, 0.0f);  // nothing written
  EXPECT_EQ(make_scheme("eden")->spec, "eden:bits=4");
  test::expect_specs_refused({"eden:bits=0", "eden:bits=9", "eden:bits=2,ef=1", "eden:bits=2,ef=ef21"},
                             [](const char* t) { make_scheme(t); });
}

}  // namespace
}  // namespace gw
