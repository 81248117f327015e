// GPU codec twins (core/device_compressor.h) against the CPU codecs: payloads
// byte-identical for the same key (maxmin bits 1..8, several buckets, ragged n
// including 0, 1 and partial buckets, unaligned buffers), decode / decode_add
// bit-identical (any NaN matches any NaN: GPU arithmetic canonicalizes NaN
// payloads), the non-finite flag, and size checks. Tests that need a GPU skip
// visibly (GTEST_SKIP with the reason) on machines without one; the factory and
// size-check tests run everywhere. Compiles without CUDA headers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/codec_test_util.h"
#include "tests/unit/gpu_test_util.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

using test::check_decode;
using test::DevBuf;
using test::encode_both;
using test::first_diff;
using test::float_of;
using test::gaussian;
using test::kInf;
using test::kNaN;
using test::Pair;

// Data with the special cases of maxmin.h sprinkled in: constant runs, signed
// zeros, huge ranges (scale saturates at FLT_MAX), tiny ranges (scale < FLT_MIN).
std::vector<float> tricky(size_t n, uint32_t seed) { return test::tricky(n, seed, test::Small::kScaledDown); }

// Random bit patterns: every float class, NaN payloads and Inf included.
std::vector<float> random_bits(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float_of(gen());
  return v;
}

std::unique_ptr<DeviceCompressor> twin(const Compressor& c) {
  auto d = make_device_compressor(c);
  EXPECT_NE(d, nullptr) << "no GPU twin for " << c.spec();
  return d;
}

// ---- tests that run everywhere -------------------------------------------------

TEST(GpuFactory, TwinsExistExactlyWhenBuiltWithCuda) {
  test::expect_twins_exactly_with_cuda(
      {"none", "fp16", "bf16", "maxmin:bits=4,bucket=512", "maxmin:bits=1,bucket=64"});
}

TEST(GpuFactory, PayloadSizeIsCheckedOnTheHostBeforeAnyLaunch) {
  // Needs no device: the size check throws before CUDA is touched.
  test::expect_payload_size_checked_on_host({"none", "fp16", "bf16", "maxmin:bits=3,bucket=100"});
}

// ---- tests that need a GPU --------------------------------------------------------

TEST(GpuParity, MaxMinPayloadsAndDecodesMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  uint32_t seed = 1;
  for (int bits = 1; bits <= 8; ++bits) {
    for (int bucket : {64, 100, 512, 1000, 8192}) {
      auto c = make_compressor("maxmin:bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket));
      auto d = twin(*c);
      ASSERT_NE(d, nullptr);
      const size_t S = static_cast<size_t>(bucket);
      for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{9}, S - 1, S, S + 1, 3 * S + 5, 5 * S,
                       size_t{20011}}) {
        ++seed;
        const std::vector<float> x = (seed % 2) ? gaussian(n, seed, 0.5f, 0.1f) : tricky(n, seed);
        const uint64_t key = 0x9e3779b97f4a7c15ull * seed;
        Pair r = encode_both(*c, *d, x, key);
        const size_t i = first_diff(r.cpu, r.gpu);
        ASSERT_EQ(i, SIZE_MAX) << c->spec() << " n=" << n << ": payload differs at byte " << i << " of "
                               << r.cpu.size() << " (cpu " << int(r.cpu[i]) << ", gpu " << int(r.gpu[i]) << ")";
        EXPECT_EQ(r.gpu_nonfinite, 0) << c->spec() << " n=" << n;
        check_decode(*c, *d, r.cpu, n, seed);
      }
    }
  }
}

TEST(GpuParity, MaxMinUnalignedBuffersAndLargeInput) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* spec : {"maxmin:bits=4,bucket=512", "maxmin:bits=8,bucket=64", "maxmin:bits=3,bucket=1000",
                           "maxmin:bits=2,bucket=8192"}) {
    auto c = make_compressor(spec);
    auto d = twin(*c);
    ASSERT_NE(d, nullptr);
    // Unaligned input floats (4-byte shifted), odd-aligned payloads and outputs.
    for (size_t in_shift : {size_t{0}, size_t{4}}) {
      for (size_t out_shift : {size_t{0}, size_t{1}, size_t{4}}) {
        const std::vector<float> x = gaussian(10007, 77 + static_cast<uint32_t>(in_shift + out_shift));
        Pair r = encode_both(*c, *d, x, 1234567, in_shift, out_shift);
        EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << spec << " shifts " << in_shift << "/" << out_shift;
        check_decode(*c, *d, r.cpu, x.size(), 5, out_shift, in_shift);
      }
    }
    // A few million values: many blocks, the grid mapping at scale.
    const std::vector<float> big = gaussian((size_t{1} << 22) + 333, 4242, 1e-3f);
    Pair r = encode_both(*c, *d, big, 0xfeedfacecafebeefull);
    EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << spec << " n=" << big.size();
    check_decode(*c, *d, r.cpu, big.size(), 6);
  }
}

TEST(GpuParity, HalfCodecsMatchCpuOnEveryFloatClass) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* spec : {"fp16", "bf16", "none"}) {
    auto c = make_compressor(spec);
    auto d = twin(*c);
    ASSERT_NE(d, nullptr);
    uint32_t seed = 100;
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{1000}, size_t{1000003}}) {
      for (int kind = 0; kind < 3; ++kind) {
        ++seed;
        std::vector<float> x = kind == 0 ? gaussian(n, seed) : kind == 1 ? random_bits(n, seed) : tricky(n, seed);
        if (kind == 0) {  // around fp16's edges: overflow, rounding to Inf, subnormal halves
          const float edge[] = {65504.0f, 65519.99f, 65520.0f, -65520.0f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-10f};
          for (size_t i = 0; i < n; i += 13) x[i] = edge[(i / 13) % 8] * ((i & 1) ? -1.0f : 1.0f);
        }
        for (size_t shift : {size_t{0}, size_t{1}}) {
          Pair r = encode_both(*c, *d, x, 0, 4 * shift, shift);
          const size_t i = first_diff(r.cpu, r.gpu);
          ASSERT_EQ(i, SIZE_MAX) << spec << " n=" << n << " kind=" << kind << " shift=" << shift
                                 << ": payload differs at byte " << i;
          EXPECT_EQ(r.gpu_nonfinite != 0, r.cpu_nonfinite) << spec << " n=" << n << " kind=" << kind;
          check_decode(*c, *d, r.cpu, n, seed, shift, 0);
        }
      }
    }
  }
}

TEST(GpuParity, NonFiniteFlag) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* spec : {"maxmin:bits=4,bucket=512", "maxmin:bits=1,bucket=8192", "fp16", "bf16", "none"}) {
    auto c = make_compressor(spec);
    auto d = twin(*c);
    ASSERT_NE(d, nullptr);
    for (float bad : {kNaN, kInf, -kInf}) {
      std::vector<float> x = gaussian(20000, 9);
      x[1234] = bad;
      x[17000] = bad;
      Pair r = encode_both(*c, *d, x, 99);
      EXPECT_TRUE(r.cpu_nonfinite) << spec;
      EXPECT_EQ(r.gpu_nonfinite, 1) << spec << " value " << bad;
      EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << spec << " value " << bad;
      check_decode(*c, *d, r.cpu, x.size(), 3);
    }
    // Finite input leaves the caller's flag alone (never cleared, never set).
    const std::vector<float> x = gaussian(20000, 10);
    Pair r = encode_both(*c, *d, x, 99);
    EXPECT_EQ(r.gpu_nonfinite, 0) << spec;
    // A null flag pointer is allowed.
    DevBuf dx(4 * x.size()), dout(c->encoded_bytes(x.size()));
    dx.upload(x.data(), 4 * x.size());
    d->encode(dx.floats(), x.size(), dout.bytes(), 99, nullptr, nullptr);
    device::synchronize();
    EXPECT_EQ(first_diff(r.cpu, dout.download()), SIZE_MAX) << spec;
  }
}

TEST(GpuParity, FlagIsStickyAcrossEncodes) {
  GW_SKIP_WITHOUT_GPU();
  auto c = make_compressor("maxmin:bits=4,bucket=512");
  auto d = twin(*c);
  ASSERT_NE(d, nullptr);
  std::vector<float> bad = gaussian(4096, 1), good = gaussian(4096, 2);
  bad[100] = kNaN;
  DevBuf dbad(4 * bad.size()), dgood(4 * good.size()), dout(c->encoded_bytes(4096)), dflag(sizeof(int));
  dbad.upload(bad.data(), 4 * bad.size());
  dgood.upload(good.data(), 4 * good.size());
  device::fill(dflag.bytes(), 0, sizeof(int));
  int* flag = reinterpret_cast<int*>(dflag.bytes());
  d->encode(dbad.floats(), 4096, dout.bytes(), 1, flag, nullptr);
  d->encode(dgood.floats(), 4096, dout.bytes(), 1, flag, nullptr);
  device::synchronize();
  int h = 0;
  device::copy_to_host(&h, flag, sizeof(int));
  EXPECT_EQ(h, 1) << "a later finite encode must not clear the flag";
}

}  // namespace
}  // namespace gw
