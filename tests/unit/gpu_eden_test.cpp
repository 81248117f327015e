// The GPU twins of eden's pieces against the CPU: the randomized Hadamard
// transform (compressors/common/hadamard_device.h) bit for bit, in place and
// out of place, aligned or not, and its inverse; EdenLevels' twin
// (compressors/eden/eden.cu) with byte-identical payloads for bits 1..8 and
// ragged counts (zero buckets, buckets whose sigma underflows, huge values),
// bit-identical decode / decode_add, the non-finite flag, host-side size checks;
// rotate then encode on the device = the bytes the CPU scheme sends. eden_sum.h's
// fixed order is checked on the CPU (close to the exact sum; zero padding leaves
// it unchanged, which the GPU's whole-chunk loads rely on). The fused device
// encode (compressors/eden/eden_device.h: rotate and encode in one kernel)
// against the CPU's rotate then EdenLevels::encode, byte for byte. Tests that need a GPU
// skip visibly without one; the rest run everywhere. Compiles without CUDA headers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "compressors/common/hadamard.h"
#include "compressors/common/hadamard_device.h"
#include "compressors/eden/eden.h"
#include "compressors/eden/eden_device.h"
#include "compressors/eden/eden_sum.h"
#include "src/scheme/round_codec.h"
#include "tests/unit/codec_test_util.h"
#include "tests/unit/gpu_test_util.h"

namespace gw {
namespace {

using test::check_decode;
using test::DevBuf;
using test::encode_both;
using test::first_diff;
using test::first_diff_bits;
using test::gaussian;
using test::Pair;

const size_t kB = eden::kBucket;

// ---- tests that run everywhere -------------------------------------------------

TEST(EdenSum, FixedOrderIsCloseToTheExactSumAndZeroPaddingLeavesItUnchanged) {
  for (size_t len : {size_t{1}, size_t{5}, eden::kSumLanes, eden::kSumLanes + 1, kB - 3, kB}) {
    const std::vector<float> a = gaussian(len, static_cast<uint32_t>(len), 3.0f, 0.5f);
    const std::vector<float> b = gaussian(len, static_cast<uint32_t>(len) + 1);
    long double exact = 0, mag = 0;
    for (size_t i = 0; i < len; ++i) {
      exact += static_cast<long double>(a[i]) * b[i];
      mag += std::fabs(static_cast<long double>(a[i]) * b[i]);
    }
    const double s = eden::bucket_sum(a.data(), b.data(), len);
    EXPECT_NEAR(s, static_cast<double>(exact), 1e-14 * static_cast<double>(mag)) << len;
    std::vector<float> pa(a), pb(b);
    pa.resize(kB, 0.0f);
    pb.resize(kB, -0.0f);  // negative zeros too: products of -0 add nothing either
    const double padded = eden::bucket_sum(pa.data(), pb.data(), kB);
    EXPECT_EQ(std::memcmp(&s, &padded, sizeof s), 0) << len << ": " << s << " vs " << padded;
  }
}

TEST(GpuEdenFactory, TheLevelsCodecHasATwinExactlyWithCudaAndTheRoundSchemeNone) {
  auto scheme = make_compressor("eden:bits=4");
  EXPECT_EQ(make_device_compressor(*scheme), nullptr) << "the round scheme runs on the host";
  const Compressor& levels = *scheme->round_codec()->factor_codec();
  auto d = make_device_compressor(levels);
  if (GW_HAVE_CUDA) {
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(&d->host(), &levels);
    for (size_t n : {size_t{1}, size_t{1000}, kB + 1}) EXPECT_EQ(d->encoded_bytes(n), levels.encoded_bytes(n));
  } else {
    EXPECT_EQ(d, nullptr);
  }
}

TEST(GpuEdenFactory, LevelsPayloadSizeIsCheckedOnTheHostBeforeAnyLaunch) {
  EdenLevels c(3);
  auto d = make_device_compressor(c);
  if (!d) GTEST_SKIP() << "build without CUDA: no device codecs to check";
  const size_t n = kB + 77, bytes = c.encoded_bytes(n);
  for (size_t wrong : {bytes - 1, bytes + 1, size_t{0}}) {
    for (bool add : {false, true}) {
      try {
        if (add) d->decode_add(nullptr, wrong, n, nullptr, nullptr);
        else d->decode(nullptr, wrong, n, nullptr, nullptr);
        ADD_FAILURE() << "accepted " << wrong << " bytes (add " << add << ")";
      } catch (const Error& e) {
        EXPECT_EQ(e.status(), GW_ERR_CORRUPT);
      }
    }
  }
}

// ---- tests that need a GPU --------------------------------------------------------

std::vector<float> rotate_on_gpu(const std::vector<float>& x, uint64_t key, bool inverse, size_t in_shift,
                                 size_t out_shift, bool in_place) {
  const size_t n = x.size();
  DevBuf din(4 * n, in_shift), dout(4 * n, out_shift);
  din.upload(x.data(), 4 * n);
  DevBuf& target = in_place ? din : dout;
  if (inverse) hadamard::device_unrotate(din.floats(), target.floats(), n, key, nullptr);
  else hadamard::device_rotate(din.floats(), target.floats(), n, key, nullptr);
  device::synchronize();
  EXPECT_TRUE(target.guard_intact()) << "n=" << n << ": wrote past the vector";
  return target.download_floats();
}

TEST(GpuHadamard, RotateAndUnrotateMatchTheCpuBitForBit) {
  GW_SKIP_WITHOUT_GPU();
  for (size_t n : {size_t{1}, size_t{7}, size_t{1000}, kB, kB + 1, size_t{100003}, size_t{1} << 22}) {
    const uint64_t key = 0x5eed0000ull + n;
    const std::vector<float> x = gaussian(n, static_cast<uint32_t>(n), 2.0f);
    std::vector<float> cpu = x;
    hadamard::rotate(cpu.data(), n, key);
    const std::vector<float> gpu = rotate_on_gpu(x, key, false, 0, 0, false);
    size_t i = first_diff_bits(cpu, gpu);
    ASSERT_EQ(i, SIZE_MAX) << "rotate n=" << n << " differs at " << i << ": cpu " << cpu[i] << " gpu " << gpu[i];

    std::vector<float> back = cpu;
    hadamard::unrotate(back.data(), n, key);
    const std::vector<float> gpu_back = rotate_on_gpu(gpu, key, true, 0, 0, true);
    i = first_diff_bits(back, gpu_back);
    ASSERT_EQ(i, SIZE_MAX) << "unrotate n=" << n << " differs at " << i;
    double err = 0;
    for (size_t k = 0; k < n; ++k) err = std::max(err, double(std::fabs(gpu_back[k] - x[k])));
    EXPECT_LT(err, 1e-5 * 2.0 * 8) << "n=" << n << ": unrotate does not undo rotate";
  }
}

TEST(GpuHadamard, InPlaceAndUnalignedBuffersGiveTheSameBits) {
  GW_SKIP_WITHOUT_GPU();
  for (size_t n : {3 * kB + 5, size_t{100003}}) {
    const std::vector<float> x = gaussian(n, 99, 0.5f, 0.25f);
    std::vector<float> cpu = x;
    hadamard::rotate(cpu.data(), n, 7);
    for (size_t in_shift : {size_t{0}, size_t{4}}) {
      for (size_t out_shift : {size_t{0}, size_t{8}}) {
        for (bool in_place : {false, true}) {
          const std::vector<float> gpu = rotate_on_gpu(x, 7, false, in_shift, out_shift, in_place);
          EXPECT_EQ(first_diff_bits(cpu, gpu), SIZE_MAX)
              << "n=" << n << " shifts " << in_shift << "/" << out_shift << " in_place " << in_place;
        }
      }
    }
  }
}

// Rotated Gaussian buckets, then the special ones: bucket 1 all zeros (scale 0),
// bucket 2 subnormal (sigma's inverse overflows float: the CPU's codes of
// +-Inf and NaN), the rest with values near FLT_MAX and tiny ones mixed in.
std::vector<float> eden_input(size_t n, uint32_t seed) {
  std::vector<float> x = gaussian(n, seed, 1.0f);
  hadamard::rotate(x.data(), n, seed);
  for (size_t i = kB; i < std::min(n, 2 * kB); ++i) x[i] = 0.0f;
  for (size_t i = 2 * kB; i < std::min(n, 3 * kB); ++i) x[i] = test::float_of(1u + (i % 37)) * ((i & 1) ? -1.f : 1.f);
  for (size_t i = 3 * kB; i < n; i += 101) x[i] = (i & 2) ? 3.0e38f : 1e-30f;
  return x;
}

TEST(GpuEden, LevelsPayloadsAndDecodesMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  uint32_t seed = 1;
  for (int bits = 1; bits <= 8; ++bits) {
    EdenLevels c(bits);
    auto d = make_device_compressor(c);
    ASSERT_NE(d, nullptr);
    for (size_t n : {size_t{1}, size_t{7}, size_t{1000}, kB - 1, kB, kB + 1, 3 * kB + 5, size_t{100003}}) {
      ++seed;
      const std::vector<float> x = eden_input(n, seed);
      const size_t in_shift = (seed % 3 == 0) ? 4 : 0, out_shift = seed % 2;
      Pair r = encode_both(c, *d, x, 0, in_shift, out_shift);
      const size_t i = first_diff(r.cpu, r.gpu);
      ASSERT_EQ(i, SIZE_MAX) << c.spec() << " n=" << n << ": payload differs at byte " << i << " of "
                             << r.cpu.size() << " (cpu " << int(r.cpu[i]) << ", gpu " << int(r.gpu[i]) << ")";
      EXPECT_FALSE(r.cpu_nonfinite);
      EXPECT_EQ(r.gpu_nonfinite, 0) << c.spec() << " n=" << n;
      check_decode(c, *d, r.cpu, n, seed, out_shift, in_shift);
    }
  }
}

TEST(GpuEden, NonfiniteBucketsAreFlaggedAndEncodedAsOnTheCpu) {
  GW_SKIP_WITHOUT_GPU();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int bits : {1, 4, 7}) {
    EdenLevels c(bits);
    auto d = make_device_compressor(c);
    ASSERT_NE(d, nullptr);
    std::vector<float> x = gaussian(3 * kB + 100, 31 + bits);
    x[kB + 17] = nan;        // bucket 1
    x[2 * kB + 5] = -inf;    // bucket 2
    x[3 * kB + 99] = inf;    // the last, short bucket
    Pair r = encode_both(c, *d, x, 0);
    EXPECT_TRUE(r.cpu_nonfinite);
    EXPECT_EQ(r.gpu_nonfinite, 1) << c.spec();
    EXPECT_EQ(first_diff(r.cpu, r.gpu), SIZE_MAX) << c.spec();
    float s0, s1;
    std::memcpy(&s0, r.gpu.data(), 4);
    std::memcpy(&s1, r.gpu.data() + 4, 4);
    EXPECT_TRUE(std::isfinite(s0) && std::isnan(s1)) << "bucket 0 finite, bucket 1 NaN: " << s0 << " " << s1;
    check_decode(c, *d, r.cpu, x.size(), 3);
  }
}

TEST(GpuEden, RotateThenEncodeOnTheDeviceSendsTheCpuSchemeBytes) {
  GW_SKIP_WITHOUT_GPU();
  const size_t n = 100003, padded = hadamard::padded_count(n);
  std::vector<float> x = gaussian(n, 5, 0.1f, 0.02f);
  x.resize(padded, 0.0f);  // what EdenCompressor::produce sends: zero-padded, rotated
  const uint64_t key = 0xabcdef12345ull;
  EdenLevels c(4);
  auto d = make_device_compressor(c);
  ASSERT_NE(d, nullptr);
  std::vector<float> y = x;
  hadamard::rotate(y.data(), padded, key);
  std::vector<uint8_t> cpu(c.encoded_bytes(padded));
  bool nf = false;
  c.encode(y.data(), padded, cpu.data(), 0, &nf);

  DevBuf dx(4 * padded), dout(cpu.size()), dflag(sizeof(int));
  dx.upload(x.data(), 4 * padded);
  device::fill(dflag.bytes(), 0, sizeof(int));
  hadamard::device_rotate(dx.floats(), dx.floats(), padded, key, nullptr);
  d->encode(dx.floats(), padded, dout.bytes(), 0, reinterpret_cast<int*>(dflag.bytes()), nullptr);
  device::synchronize();
  EXPECT_EQ(first_diff(cpu, dout.download()), SIZE_MAX);
}

// The CPU's bytes for a padded vector: EdenCompressor::produce's rotation, then
// EdenLevels::encode.
std::vector<uint8_t> cpu_rotate_encode(std::vector<float> x, int bits, uint64_t key, bool* nonfinite) {
  hadamard::rotate(x.data(), x.size(), key);
  EdenLevels c(bits);
  std::vector<uint8_t> out(c.encoded_bytes(x.size()));
  *nonfinite = false;
  c.encode(x.data(), x.size(), out.data(), 0, nonfinite);
  return out;
}

struct FusedResult {
  std::vector<uint8_t> bytes;
  int nonfinite = 0;
  bool guard_intact = true;
};

FusedResult fused_on_gpu(const std::vector<float>& x, int bits, uint64_t key, size_t in_shift = 0,
                         size_t out_shift = 0) {
  const size_t n = x.size(), bytes = EdenLevels(bits).encoded_bytes(n);
  DevBuf dx(4 * n, in_shift), dout(bytes, out_shift), dflag(sizeof(int));
  dx.upload(x.data(), 4 * n);
  device::fill(dout.bytes(), 0xa5, bytes);  // poisoned: every byte must be written
  device::fill(dflag.bytes(), 0, sizeof(int));
  const size_t wrote = eden::device_encode_rotated(dx.floats(), n, bits, key, dout.bytes(),
                                                   reinterpret_cast<int*>(dflag.bytes()), nullptr);
  device::synchronize();
  EXPECT_EQ(wrote, bytes);
  FusedResult r;
  r.bytes = dout.download();
  const std::vector<uint8_t> f = dflag.download();
  std::memcpy(&r.nonfinite, f.data(), sizeof(int));
  r.guard_intact = dout.guard_intact();
  EXPECT_EQ(first_diff_bits(x, dx.download_floats()), SIZE_MAX) << "the input was changed";
  return r;
}

TEST(GpuEdenFused, PayloadMatchesCpuRotateThenEncodeBytewise) {
  GW_SKIP_WITHOUT_GPU();
  uint32_t seed = 100;
  for (int bits = 1; bits <= 8; ++bits) {
    for (size_t count : {kB, 3 * kB, size_t{20011}, size_t{1} << 22, size_t{1}, size_t{3000}, 5 * kB + 7}) {
      const size_t padded = hadamard::padded_count(count);
      ++seed;
      std::vector<float> x = gaussian(count, seed, 0.5f + bits, 0.1f * bits);
      if (count > 2 * kB)  // a zero bucket (scale 0) and a tiny one after it
        for (size_t i = kB; i < 2 * kB; ++i) x[i] = 0.0f;
      if (count > 3 * kB)
        for (size_t i = 2 * kB; i < 3 * kB; ++i) x[i] = test::float_of(1u + (i % 37)) * ((i & 1) ? -1.f : 1.f);
      x.resize(padded, 0.0f);
      const uint64_t key = 0x9e3779b97f4a7c15ull * seed;
      bool cpu_nf = false;
      const std::vector<uint8_t> cpu = cpu_rotate_encode(x, bits, key, &cpu_nf);
      const size_t shift = (seed % 3 == 0) ? 4 : 0, oshift = seed % 2;
      const FusedResult g = fused_on_gpu(x, bits, key, shift, oshift);
      const size_t i = first_diff(cpu, g.bytes);
      ASSERT_EQ(i, SIZE_MAX) << "bits=" << bits << " count=" << count << " padded=" << padded
                             << ": payload differs at byte " << i << " of " << cpu.size() << " (cpu "
                             << int(cpu[i]) << ", gpu " << int(g.bytes[i]) << ")";
      EXPECT_FALSE(cpu_nf);
      EXPECT_EQ(g.nonfinite, 0) << "bits=" << bits << " count=" << count;
      EXPECT_TRUE(g.guard_intact) << "bits=" << bits << " count=" << count << ": wrote past the payload";
    }
  }
}

TEST(GpuEdenFused, NonfiniteInputsAreFlaggedAndEncodedAsOnTheCpu) {
  GW_SKIP_WITHOUT_GPU();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int bits : {1, 4, 8}) {
    const size_t padded = hadamard::padded_count(3 * kB + 100);
    std::vector<float> x = gaussian(3 * kB + 100, 77 + bits);
    x[kB + 17] = nan;      // bucket 1
    x[2 * kB + 5] = -inf;  // bucket 2
    x[3 * kB + 99] = inf;  // the last, short bucket
    x.resize(padded, 0.0f);
    bool cpu_nf = false;
    const std::vector<uint8_t> cpu = cpu_rotate_encode(x, bits, 12345 + bits, &cpu_nf);
    const FusedResult g = fused_on_gpu(x, bits, 12345 + bits);
    EXPECT_TRUE(cpu_nf);
    EXPECT_EQ(g.nonfinite, 1) << "bits=" << bits;
    EXPECT_EQ(first_diff(cpu, g.bytes), SIZE_MAX) << "bits=" << bits;
    // Finite vector: the flag is left at 0.
    std::vector<float> y = gaussian(padded, 5);
    EXPECT_EQ(fused_on_gpu(y, bits, 1).nonfinite, 0);
  }
}

TEST(GpuEdenFused, RejectsCountsThatAreNotPaddedAndBadWidths) {
  GW_SKIP_WITHOUT_GPU();
  for (size_t n : {size_t{3}, kB + 3, size_t{20011}}) {
    try {
      eden::device_encode_rotated(nullptr, n, 4, 0, nullptr, nullptr, nullptr);
      ADD_FAILURE() << n << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    }
  }
  for (int bits : {0, 9}) {
    try {
      eden::device_encode_rotated(nullptr, kB, bits, 0, nullptr, nullptr, nullptr);
      ADD_FAILURE() << bits << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), GW_ERR_INVALID_ARGUMENT);
    }
  }
  EXPECT_EQ(eden::device_encode_rotated(nullptr, 0, 4, 0, nullptr, nullptr, nullptr), 0u);
}

}  // namespace
}  // namespace gw
