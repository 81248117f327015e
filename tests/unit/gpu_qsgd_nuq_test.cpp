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

#include "codec_test_util.h"
#include "common/error.h"
#include "core/device_compressor.h"
#include "gradwire/gw_config.h"
#include "spec/registry.h"

namespace gw {
namespace {

using test::bits_of;
using test::float_of;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
constexpr size_t kGuard = 64;  // poisoned bytes after every device buffer
constexpr uint8_t kPoison = 0xee;

bool have_gpu() { return device::device_count() > 0; }

#define GW_SKIP_WITHOUT_GPU()                                                                        \
  do {                                                                                               \
    if (!have_gpu())                                                                                 \
      GTEST_SKIP() << "no CUDA device on this machine (GW_HAVE_CUDA=" << GW_HAVE_CUDA                \
                   << "): GPU parity not checked here; run scripts/gpu_run.sh on a GPU machine"; \
  } while (0)

// A device buffer of `bytes` usable bytes plus kGuard poisoned guard bytes, at a
// `shift` of 0..15 bytes from the allocation's start (unaligned paths).
class DevBuf {
 public:
  DevBuf(size_t bytes, size_t shift = 0) : bytes_(bytes), shift_(shift) {
    base_ = static_cast<uint8_t*>(device::alloc(bytes + shift + kGuard));
    device::fill(base_, kPoison, bytes + shift + kGuard);
  }
  ~DevBuf() {
    try {
      device::release(base_);
    } catch (...) {
    }
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;

  uint8_t* bytes() { return base_ + shift_; }
  float* floats() { return reinterpret_cast<float*>(base_ + shift_); }
  void upload(const void* h, size_t n) { device::copy_to_device(bytes(), h, n); }
  std::vector<uint8_t> download() const {
    std::vector<uint8_t> h(bytes_);
    device::copy_to_host(h.data(), base_ + shift_, bytes_);
    return h;
  }
  std::vector<float> download_floats() const {
    std::vector<float> f(bytes_ / 4);
    device::copy_to_host(f.data(), base_ + shift_, 4 * f.size());
    return f;
  }
  bool guard_intact() const {
    std::vector<uint8_t> g(kGuard);
    device::copy_to_host(g.data(), base_ + shift_ + bytes_, kGuard);
    for (uint8_t b : g)
      if (b != kPoison) return false;
    return true;
  }

 private:
  uint8_t* base_ = nullptr;
  size_t bytes_;
  size_t shift_;
};

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// The special cases of qsgd.h sprinkled in: zero runs of both signs, huge values
// (the l2 norm overflows and saturates), subnormals and tiny values (scale < 2^-118),
// wide magnitudes.
std::vector<float> tricky(size_t n, uint32_t seed) {
  std::vector<float> v = gaussian(n, seed, 3.0f);
  std::mt19937 gen(seed ^ 0x5eedu);
  for (size_t i = 0; i < n; ++i) {
    switch ((i / 97) % 7) {
      case 1:
        v[i] = 1.5f;
        break;
      case 2:
        v[i] = (gen() & 1) ? 0.0f : -0.0f;
        break;
      case 3:
        v[i] = (gen() & 1) ? 3.0e38f : -3.0e38f;
        break;
      case 4:
        v[i] = float_of(gen() & 0x00000fffu);  // subnormals
        break;
      case 5:
        v[i] = std::ldexp(v[i], static_cast<int>(gen() % 60) - 30);
        break;
      default:
        break;
    }
  }
  return v;
}

struct Pair {
  std::vector<uint8_t> cpu, gpu;
  bool cpu_nonfinite = false;
  int gpu_nonfinite = 0;
};

Pair encode_both(const Compressor& c, const DeviceCompressor& d, const std::vector<float>& x, uint64_t key,
                 size_t in_shift = 0, size_t out_shift = 0) {
  Pair r;
  const size_t n = x.size();
  const size_t bytes = c.encoded_bytes(n);
  EXPECT_EQ(d.encoded_bytes(n), bytes);
  r.cpu.assign(bytes, 0);
  EXPECT_EQ(c.encode(x.data(), n, r.cpu.data(), key, &r.cpu_nonfinite), bytes);

  DevBuf dx(4 * n, in_shift), dout(bytes, out_shift), dflag(sizeof(int));
  dx.upload(x.data(), 4 * n);
  device::fill(dflag.bytes(), 0, sizeof(int));
  EXPECT_EQ(d.encode(dx.floats(), n, dout.bytes(), key, reinterpret_cast<int*>(dflag.bytes()), nullptr), bytes);
  device::synchronize();
  r.gpu = dout.download();
  device::copy_to_host(&r.gpu_nonfinite, dflag.bytes(), sizeof(int));
  EXPECT_TRUE(dout.guard_intact()) << c.spec() << " n=" << n << ": GPU encode wrote past encoded_bytes";
  return r;
}

size_t first_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] != b[i]) return i;
  return a.size() == b.size() ? SIZE_MAX : std::min(a.size(), b.size());
}

size_t first_diff_bits(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (bits_of(a[i]) != bits_of(b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return i;
  return a.size() == b.size() ? SIZE_MAX : std::min(a.size(), b.size());
}

void check_decode(const Compressor& c, const DeviceCompressor& d, const std::vector<uint8_t>& payload, size_t n,
                  uint32_t seed, size_t in_shift = 0, size_t out_shift = 0) {
  const std::string what = c.spec() + " n=" + std::to_string(n) + " seed=" + std::to_string(seed) +
                           " shifts=" + std::to_string(in_shift) + "/" + std::to_string(out_shift);
  std::vector<float> cpu_out(n), cpu_acc = gaussian(n, seed, 2.0f);
  const std::vector<float> acc0 = cpu_acc;
  c.decode(payload.data(), payload.size(), n, cpu_out.data());
  c.decode_add(payload.data(), payload.size(), n, cpu_acc.data());

  DevBuf din(payload.size(), in_shift), dout(4 * n, out_shift), dacc(4 * n, out_shift);
  din.upload(payload.data(), payload.size());
  dacc.upload(acc0.data(), 4 * n);
  d.decode(din.bytes(), payload.size(), n, dout.floats(), nullptr);
  d.decode_add(din.bytes(), payload.size(), n, dacc.floats(), nullptr);
  device::synchronize();
  const std::vector<float> gpu_out = dout.download_floats(), gpu_acc = dacc.download_floats();
  size_t i = first_diff_bits(cpu_out, gpu_out);
  EXPECT_EQ(i, SIZE_MAX) << what << ": decode differs at " << i << " cpu=" << cpu_out[i] << " gpu=" << gpu_out[i];
  i = first_diff_bits(cpu_acc, gpu_acc);
  EXPECT_EQ(i, SIZE_MAX) << what << ": decode_add differs at " << i << " cpu=" << cpu_acc[i]
                         << " gpu=" << gpu_acc[i];
  EXPECT_TRUE(dout.guard_intact()) << what << ": decode wrote past n";
  EXPECT_TRUE(dacc.guard_intact()) << what << ": decode_add wrote past n";
}

std::vector<std::string> kinds(int bits, int bucket) {
  const std::string b = "bits=" + std::to_string(bits) + ",bucket=" + std::to_string(bucket);
  return {"qsgd:" + b + ",norm=l2", "qsgd:" + b + ",norm=max", "nuq:" + b};
}

// ---- tests that run everywhere -------------------------------------------------

TEST(GpuQsgdNuqFactory, TwinsExistExactlyWhenBuiltWithCuda) {
  for (const char* spec : {"qsgd", "qsgd:bits=2,bucket=64,norm=max", "nuq", "nuq:bits=8,bucket=8192"}) {
    auto c = make_compressor(spec);
    auto d = make_device_compressor(*c);
    if (GW_HAVE_CUDA) {
      ASSERT_NE(d, nullptr) << spec;
      EXPECT_EQ(&d->host(), c.get());
      EXPECT_EQ(d->encoded_bytes(1000), c->encoded_bytes(1000)) << spec;
    } else {
      EXPECT_EQ(d, nullptr) << spec << ": a build without CUDA has no device codecs";
    }
  }
}

TEST(GpuQsgdNuqFactory, PayloadSizeIsCheckedOnTheHostBeforeAnyLaunch) {
  for (const char* spec : {"qsgd:bits=3,bucket=100", "nuq:bits=5,bucket=100"}) {
    auto c = make_compressor(spec);
    auto d = make_device_compressor(*c);
    if (!d) GTEST_SKIP() << "build without CUDA: no device codecs to check";
    const size_t n = 1000, bytes = c->encoded_bytes(n);
    for (size_t wrong : {bytes - 1, bytes + 1, size_t{0}}) {
      try {
        d->decode(nullptr, wrong, n, nullptr, nullptr);
        ADD_FAILURE() << spec << ": decode accepted " << wrong << " bytes";
      } catch (const Error& e) {
        EXPECT_EQ(e.status(), GW_ERR_CORRUPT) << spec;
      }
      try {
        d->decode_add(nullptr, wrong, n, nullptr, nullptr);
        ADD_FAILURE() << spec << ": decode_add accepted " << wrong << " bytes";
      } catch (const Error& e) {
        EXPECT_EQ(e.status(), GW_ERR_CORRUPT) << spec;
      }
    }
  }
}

// ---- tests that need a GPU --------------------------------------------------------

TEST(GpuQsgdNuq, PayloadsAndDecodesMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  uint32_t seed = 1;
  for (int bits = 2; bits <= 8; ++bits) {
    for (int bucket : {64, 100, 512, 1000, 8192}) {
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
