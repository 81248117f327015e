// Counter-based RNG: SIMD twins give the scalar bits; streams look uniform and
// keys depend on every input.
// GCC 12 reports false -Wmaybe-uninitialized inside the AVX-512 intrinsic headers
// (their _mm512_undefined_* helpers) once those are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "src/common/cpu_features.h"
#include "src/common/rng.h"

namespace gw {
namespace {

#if defined(__x86_64__)
__attribute__((target("avx2"))) void rng_block_avx2(uint64_t key, uint32_t c0, uint32_t* out) {
  __m256i k0 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key)));
  __m256i k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  __m256i c = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(c0)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), rng_u32_avx2(k0, k1, c));
}
__attribute__((target("avx512f"))) void rng_block_avx512(uint64_t key, uint32_t c0, uint32_t* out) {
  __m512i k0 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key)));
  __m512i k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  __m512i c = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(c0)),
                               _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  _mm512_storeu_si512(out, rng_u32_avx512(k0, k1, c));
}

// The SIMD rounding-number helpers: U of 16 (AVX2) / 32 (AVX-512) elements from
// an even index e0, as the kernels call them.
__attribute__((target("avx2"))) void sr16_block_avx2(uint64_t key, uint32_t e0, uint32_t* out) {
  const __m256i k0 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key)));
  const __m256i k1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const __m256i c = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(e0 >> 1)), rng_sr_pair_order_avx2());
  const __m256i h = rng_u32_avx2(k0, k1, c);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), rng_sr16_avx2_first(h));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), rng_sr16_avx2_second(h));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), rng_sr16_avx2_first<8>(h));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 24), rng_sr16_avx2_second<8>(h));
}
__attribute__((target("avx512f,avx512bw"))) void sr16_block_avx512(uint64_t key, uint32_t e0, uint32_t* out) {
  const __m512i k0 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key)));
  const __m512i k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(key >> 32)));
  const __m512i c = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(e0 >> 1)), rng_sr_pair_order_avx512());
  const __m512i h = rng_u32_avx512(k0, k1, c);
  _mm512_storeu_si512(out, rng_sr16_avx512_first(h));
  _mm512_storeu_si512(out + 16, rng_sr16_avx512_second(h));
  _mm512_storeu_si512(out + 32, rng_sr16_avx512_first<8>(h));
  _mm512_storeu_si512(out + 48, rng_sr16_avx512_second<8>(h));
}

TEST(Rng, SimdRoundingNumbersMatchScalar) {
  std::mt19937_64 gen(11);
  for (int t = 0; t < 2000; ++t) {
    const uint64_t key = gen();
    const uint32_t e0 = static_cast<uint32_t>(gen()) & ~1u;  // includes wrap-around at 2^32
    uint32_t v[64];  // U of each element, then U << 8 (the <8> form)
    if (cpu_isa_supported(CpuIsa::AVX2)) {
      sr16_block_avx2(key, e0, v);
      for (uint32_t i = 0; i < 16; ++i) ASSERT_EQ(v[i], rng_sr16(key, e0 + i)) << i;
      for (uint32_t i = 0; i < 16; ++i) ASSERT_EQ(v[16 + i], rng_sr16(key, e0 + i) << 8) << i;
    }
    if (cpu_isa_supported(CpuIsa::AVX512)) {
      sr16_block_avx512(key, e0, v);
      for (uint32_t i = 0; i < 32; ++i) ASSERT_EQ(v[i], rng_sr16(key, e0 + i)) << i;
      for (uint32_t i = 0; i < 32; ++i) ASSERT_EQ(v[32 + i], rng_sr16(key, e0 + i) << 8) << i;
    }
  }
}

TEST(Rng, SimdMatchesScalar) {
  std::mt19937_64 gen(7);
  for (int t = 0; t < 2000; ++t) {
    uint64_t key = gen();
    uint32_t c0 = static_cast<uint32_t>(gen());  // includes wrap-around at 2^32
    uint32_t v[16];
    if (cpu_isa_supported(CpuIsa::AVX2)) {
      rng_block_avx2(key, c0, v);
      for (uint32_t i = 0; i < 8; ++i) ASSERT_EQ(v[i], rng_u32(key, c0 + i));
    }
    if (cpu_isa_supported(CpuIsa::AVX512)) {
      rng_block_avx512(key, c0, v);
      for (uint32_t i = 0; i < 16; ++i) ASSERT_EQ(v[i], rng_u32(key, c0 + i));
    }
  }
}
#endif

TEST(Rng, UniformAndIndependentLooking) {
  const uint64_t key = rng_derive_key(1, 2, 3, 4, 5);
  const uint32_t n = 1u << 20;
  std::vector<double> bins(256, 0.0);
  double sum = 0, lag = 0;
  float prev = 0;
  for (uint32_t i = 0; i < n; ++i) {
    float u = rng_uniform(key, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    lag += (u - 0.5) * (prev - 0.5);
    prev = u;
    bins[rng_u32(key, i) >> 24] += 1;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(lag / n, 0.0, 5 * (1.0 / 12) / std::sqrt(static_cast<double>(n)));
  double chi2 = 0, e = n / 256.0;
  for (double b : bins) chi2 += (b - e) * (b - e) / e;
  EXPECT_LT(chi2, 255 + 6 * std::sqrt(2 * 255.0));  // ~6 sigma
  // Low bits used for nothing, but the 24 used bits should cover the range.
  EXPECT_GT(rng_u32(key, 0) ^ rng_u32(key, 1), 0u);
}

// The 16-bit rounding numbers: the two halves of one hash, each uniform on
// [0, 2^16) and uncorrelated with its pair partner and its neighbours.
TEST(Rng, RoundingNumbersAreHalvesAndLookUniform) {
  const uint64_t key = rng_derive_key(3, 1, 4, 1, 5);
  for (uint32_t p : {0u, 1u, 12345u, 0x7fffffffu}) {
    const uint32_t h = rng_u32(key, p);
    EXPECT_EQ(rng_sr16(key, 2 * p), h & 0xffffu);
    EXPECT_EQ(rng_sr16(key, 2 * p + 1), h >> 16);
  }
  const uint32_t n = 1u << 20;
  std::vector<double> bins(256, 0.0);
  double sum = 0, pair = 0, lag2 = 0;
  for (uint32_t i = 0; i < n; i += 2) {
    const double a = rng_sr16(key, i) * static_cast<double>(kSrUnit) - 0.5;
    const double b = rng_sr16(key, i + 1) * static_cast<double>(kSrUnit) - 0.5;
    const double c = rng_sr16(key, i + 2) * static_cast<double>(kSrUnit) - 0.5;
    ASSERT_LT(rng_sr16(key, i), 65536u);
    sum += a + b;
    pair += a * b;
    lag2 += a * c;
    bins[rng_sr16(key, i) >> 8] += 1;
    bins[rng_sr16(key, i + 1) >> 8] += 1;
  }
  const double sd = std::sqrt(1.0 / 12);
  EXPECT_NEAR(sum / n, 0.0, 5 * sd / std::sqrt(static_cast<double>(n)));
  EXPECT_NEAR(pair / (n / 2), 0.0, 5 * sd * sd / std::sqrt(n / 2.0));
  EXPECT_NEAR(lag2 / (n / 2), 0.0, 5 * sd * sd / std::sqrt(n / 2.0));
  double chi2 = 0, e = n / 256.0;
  for (double b : bins) chi2 += (b - e) * (b - e) / e;
  EXPECT_LT(chi2, 255 + 6 * std::sqrt(2 * 255.0));
}

TEST(Rng, KeysDependOnEveryInput) {
  std::set<uint64_t> keys;
  for (uint64_t a = 0; a < 3; ++a)
    for (uint64_t b = 0; b < 3; ++b)
      for (uint64_t c = 0; c < 3; ++c)
        for (uint64_t d = 0; d < 3; ++d)
          for (uint64_t e = 0; e < 3; ++e) keys.insert(rng_derive_key(a, b, c, d, e));
  EXPECT_EQ(keys.size(), 243u);
  EXPECT_NE(rng_derive_key(1, 2, 0, 0, 0), rng_derive_key(2, 1, 0, 0, 0));
  // Streams of neighbouring keys are unrelated.
  uint64_t k1 = rng_derive_key(9, 0, 0, 0, 0), k2 = rng_derive_key(9, 0, 0, 0, 1);
  int same = 0;
  for (uint32_t i = 0; i < 4096; ++i) same += (rng_u32(k1, i) >> 24) == (rng_u32(k2, i) >> 24);
  EXPECT_LT(same, 4096 / 256 * 3);
}

TEST(CpuFeatures, ForcedPathIsClamped) {
  for (CpuIsa isa : {CpuIsa::SCALAR, CpuIsa::AVX2, CpuIsa::AVX512}) {
    CpuIsa got = set_cpu_isa_for_testing(isa);
    EXPECT_TRUE(cpu_isa_supported(got));
    EXPECT_LE(static_cast<int>(got), static_cast<int>(isa));
    EXPECT_EQ(cpu_isa(), got);
  }
  reset_cpu_isa_for_testing();
  EXPECT_TRUE(cpu_isa_supported(cpu_isa()));
}

}  // namespace
}  // namespace gw
