// The randomized Hadamard transform (compressors/common/hadamard.h) against its
// definition: blocks cover any count exactly; each block is the orthonormal
// Walsh-Hadamard matrix (checked entry by entry on small sizes); rotate keeps
// norms and unrotate undoes it to rounding for counts that are powers of two,
// odd, prime and larger than a block; the signs depend only on (key, i); a
// spike is spread evenly over its block, which is what the codecs rely on.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "compressors/common/hadamard.h"

#include "tests/unit/codec_test_util.h"

namespace gw {
namespace {

double norm2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return s;
}

TEST(Hadamard, BlocksCoverAnyCountWithPowerOfTwoLengths) {
  for (size_t n : {size_t(0), size_t(1), size_t(7), size_t(1000), hadamard::kMaxBlock, hadamard::kMaxBlock * 3 + 5}) {
    size_t at = 0;
    hadamard::for_each_block(n, [&](size_t first, size_t len) {
      EXPECT_EQ(first, at);
      EXPECT_EQ(len & (len - 1), 0u) << len;
      EXPECT_LE(len, hadamard::kMaxBlock);
      at += len;
    });
    EXPECT_EQ(at, n);
  }
}

TEST(Hadamard, EachBlockIsTheOrthonormalWalshHadamardMatrix) {
  for (size_t len : {size_t(2), size_t(8), size_t(64), size_t(4096)}) {  // 4096: passes above the L1 sub-block
    for (size_t col : {size_t(0), size_t(1), len - 1, len / 3}) {
      std::vector<float> e(len, 0.0f);
      e[col] = 1.0f;
      hadamard::transform_block(e.data(), len);
      const float h = 1.0f / std::sqrt(static_cast<float>(len));
      for (size_t row = 0; row < len; ++row) {
        // H[row][col] = (-1)^popcount(row & col) / sqrt(len)
        const float want = (__builtin_popcountll(row & col) & 1) ? -h : h;
        ASSERT_NEAR(e[row], want, 1e-6f) << len << " " << row << "," << col;
      }
    }
  }
}

TEST(Hadamard, RotateKeepsNormsAndUnrotateUndoesItForAnyCount) {
  for (size_t n : {size_t(1), size_t(2), size_t(1024), size_t(1000), size_t(20011), hadamard::kMaxBlock * 2 + 777}) {
    std::vector<float> x = test::gaussian(n, static_cast<unsigned>(n)), y = x;
    hadamard::rotate(y.data(), n, 99);
    EXPECT_NEAR(norm2(y), norm2(x), 1e-5 * norm2(x)) << n;
    if (n > 1) EXPECT_NE(y, x);
    hadamard::unrotate(y.data(), n, 99);
    double err = 0;
    for (size_t i = 0; i < n; ++i) err = std::max(err, double(std::fabs(y[i] - x[i])));
    EXPECT_LT(err, 1e-5) << n;
  }
}

TEST(Hadamard, SignsDependOnlyOnTheKeyAndASpikeIsSpreadEvenly) {
  const size_t n = 8192;
  std::vector<float> a(n, 1.0f), b(n, 1.0f), c(n, 1.0f);
  hadamard::rotate(a.data(), n, 5);
  hadamard::rotate(b.data(), n, 5);
  hadamard::rotate(c.data(), n, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int plus = 0;
  for (size_t i = 0; i < n; ++i) plus += hadamard::sign(5, i) > 0;
  EXPECT_NEAR(plus, int(n / 2), 4 * std::sqrt(n / 4.0));  // fair signs, 4 standard deviations
  std::vector<float> spike(n, 0.0f);
  spike[123] = 10.0f;
  hadamard::rotate(spike.data(), n, 5);
  for (float v : spike) ASSERT_NEAR(std::fabs(v), 10.0f / std::sqrt(float(n)), 1e-5f);
}

}  // namespace
}  // namespace gw
