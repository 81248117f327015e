// GPU twins of qsgd and nuq (compressors/qsgd/qsgd.cu, compressors/nuq/nuq.cu)
// against the CPU codecs: payloads byte-identical for the same key (bits 2..8,
// both qsgd norms and nuq, several buckets, ragged n including 0, 1 and partial
// buckets, unaligned buffers, millions of values), decode / decode_add
// bit-identical (any NaN matches any NaN: GPU arithmetic canonicalizes NaN
// payloads), the non-finite flag, and host-side size checks. Tests that need a GPU
// skip visibly (GTEST_SKIP with the reason) on machines without one. Seeds are
// fixed and printed in failure messages. Compiles without CUDA headers.
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

// The special cases of qsgd.h sprinkled in: zero runs of both signs, huge values
// (the l2 norm overflows and saturates), subnormals and tiny values (scale < 2^-118),
// wide magnitudes.
std::vector<float> tricky(size_t n, uint32_t seed) { return test::tricky(n, seed, test::Small::kWideMagnitudes); }

std::vector<std::string> kinds(int bits, int bucket) {
  const std::string b = "bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket);
  return {"qsgd:" + b + ",norm=l2", "qsgd:" + b + ",norm=max", "nuq:" + b};
}

// ---- tests that run everywhere -------------------------------------------------

TEST(GpuQsgdNuqFactory, TwinsExistExactlyWhenBuiltWithCuda) {
  test::expect_twins_exactly_with_cuda({"qsgd", "qsgd:bits=2,bucket=64,norm=max", "nuq", "nuq:bits=8,bucket=8192"});
}

TEST(GpuQsgdNuqFactory, PayloadSizeIsCheckedOnTheHostBeforeAnyLaunch) {
  test::expect_payload_size_checked_on_host({"qsgd:bits=3,bucket=100", "nuq:bits=5,bucket=100"});
}

// ---- tests that need a GPU --------------------------------------------------------

TEST(GpuQsgdNuq, PayloadsAndDecodesMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  uint32_t seed = 1;
  for (int bits = 2; bits <= 8; ++bits) {
    for (int bucket : {64, 100, 128, 512, 1000, 4096, 8192}) {  // encode teams of 4..256, full and ragged
      for (const std::string& spec : kinds(bits, bucket)) {
        auto c = make_compressor(spec);
        auto d = make_device_compressor(*c);
        ASSERT_NE(d, nullptr) << spec;
        const size_t S = static_cast<size_t>(bucket);
        for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{9}, S - 1, S, S + 1, 3 * S + 5, size_t{20011}}) {
          ++seed;
          const std::vector<float> x = (seed % 2) ? gaussian(n, seed, 0.5f, 0.1f) : tricky(n, seed);
          const uint64_t key = 0x9e3779b97f4a7c15ull * seed;
          Pair r = encode_both(*c, *d, x, key);
          const size_t i = first_diff(r.cpu, r.gpu);
          ASSERT_EQ(i, SIZE_MAX) << spec << " n=" << n << " seed=" << seed << ": payload differs at byte " << i
                                 << " of " << r.cpu.size() << " (cpu " << int(r.cpu[i]) << ", gpu " << int(r.gpu[i])
                                 << ")";
          EXPECT_EQ(r.gpu_nonfinite, 0) << spec << " n=" << n;
          check_decode(*c, *d, r.cpu, n, seed);
        }
      }
    }
  }
}

TEST(GpuQsgdNuq, UnalignedBuffersLargeInputAndJunkPayloads) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* spec : {"qsgd:bits=4,bucket=512", "qsgd:bits=8,bucket=64,norm=max", "nuq:bits=4,bucket=512",
                           "nuq:bits=3,bucket=1000", "qsgd:bits=5,bucket=8192"}) {
    auto c = make_compressor(spec);
    auto d = make_device_compressor(*c);
    ASSERT_NE(d, nullptr) << spec;
    for (size_t in_shift : {size_t{0}, size_t{4}}) {
      for (size_t out_shift : {size_t{0}, size_t{1}, size_t{4}}) {
        const std::vector<float> x = gaussian(10007, 77 + static_cast<uint32_t>(in_shift + out_shift));
        Pair r = encode_both(*c, *d, x, 1234567, in_shift, out_shift);
        EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << spec << " shifts " << in_shift << "/" << out_shift;
        check_decode(*c, *d, r.cpu, x.size(), 5, out_shift, in_shift);
      }
    }
    const std::vector<float> big = gaussian((size_t{1} << 22) + 333, 4242, 1e-3f);
    Pair r = encode_both(*c, *d, big, 0xfeedfacecafebeefull);
    EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << spec << " n=" << big.size();
    check_decode(*c, *d, r.cpu, big.size(), 6);
    // Untrusted payload bytes (any scale bits, any codes) decode the same too.
    std::vector<uint8_t> junk(c->encoded_bytes(5000));
    std::mt19937 g(99);
    for (auto& b : junk) b = static_cast<uint8_t>(g());
    check_decode(*c, *d, junk, 5000, 7);
  }
}

TEST(GpuQsgdNuq, NonFiniteFlag) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* spec : {"qsgd:bits=4,bucket=512", "qsgd:bits=2,bucket=8192,norm=max", "nuq:bits=4,bucket=512",
                           "nuq:bits=7,bucket=64"}) {
    auto c = make_compressor(spec);
    auto d = make_device_compressor(*c);
    ASSERT_NE(d, nullptr) << spec;
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
    const std::vector<float> x = gaussian(20000, 10);
    Pair r = encode_both(*c, *d, x, 99);
    EXPECT_EQ(r.gpu_nonfinite, 0) << spec;
    DevBuf dx(4 * x.size()), dout(c->encoded_bytes(x.size()));
    dx.upload(x.data(), 4 * x.size());
    d->encode(dx.floats(), x.size(), dout.bytes(), 99, nullptr, nullptr);  // a null flag pointer is allowed
    device::synchronize();
    EXPECT_EQ(first_diff(r.cpu, dout.download()), SIZE_MAX) << spec;
  }
}

}  // namespace
}  // namespace gw
