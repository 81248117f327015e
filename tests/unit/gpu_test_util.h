// Helpers shared by the GPU codec twin tests (gpu_parity_test.cpp,
// gpu_qsgd_nuq_test.cpp): guarded device buffers, CPU-vs-GPU encode and decode
// comparisons, and the host-side factory checks. Compiles without CUDA headers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/codec_test_util.h"
#include "src/common/error.h"
#include "src/core/device_compressor.h"
#include "gradwire/gw_config.h"
#include "src/spec/registry.h"

namespace gw {
namespace test {

constexpr size_t kGuard = 64;  // poisoned bytes after every device buffer
constexpr uint8_t kPoison = 0xee;

inline bool have_gpu() { return device::device_count() > 0; }

#define GW_SKIP_WITHOUT_GPU()                                                                        \
  do {                                                                                               \
    if (!::gw::test::have_gpu())                                                                     \
      GTEST_SKIP() << "no CUDA device on this machine (GW_HAVE_CUDA=" << GW_HAVE_CUDA                \
                   << "): GPU parity not checked here; run scripts/gpu_run.sh on a GPU machine"; \
  } while (0)

// A device buffer of `bytes` usable bytes plus kGuard poisoned guard bytes, at a
// `shift` of 0..15 bytes from the allocation's start (to exercise unaligned paths).
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
  // The guard after the buffer is untouched.
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

// How the last kind of special run makes values small.
enum class Small { kScaledDown, kWideMagnitudes };

// Gaussian data with runs of special cases every 97 values: constants, signed
// zeros, values near FLT_MAX (ranges and norms overflow), subnormals, and small
// values — all scaled by 1e-30, or spread over 2^-30..2^29.
inline std::vector<float> tricky(size_t n, uint32_t seed, Small small) {
  std::vector<float> v = gaussian(n, seed, 3.0f);
  std::mt19937 gen(seed ^ 0x5eedu);
  for (size_t i = 0; i < n; ++i) {
    switch ((i / 97) % 7) {
      case 1: v[i] = 1.5f; break;  // constant run
      case 2: v[i] = (gen() & 1) ? 0.0f : -0.0f; break;
      case 3: v[i] = (gen() & 1) ? 3.0e38f : -3.0e38f; break;  // range / norm overflows float
      case 4: v[i] = float_of(gen() & 0x00000fffu); break;     // subnormals
      case 5:
        v[i] = small == Small::kScaledDown ? v[i] * 1e-30f : std::ldexp(v[i], static_cast<int>(gen() % 60) - 30);
        break;
      default: break;
    }
  }
  return v;
}

struct Pair {
  std::vector<uint8_t> cpu, gpu;
  bool cpu_nonfinite = false;
  int gpu_nonfinite = 0;
};

// Encodes x on the CPU and the GPU (with the given byte shifts of the device
// input and output) and returns both payloads.
inline Pair encode_both(const Compressor& c, const DeviceCompressor& d, const std::vector<float>& x, uint64_t key,
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

inline size_t first_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] != b[i]) return i;
  return a.size() == b.size() ? SIZE_MAX : std::min(a.size(), b.size());
}

// Decoded floats: bit-identical, except that any NaN matches any NaN (GPU float
// arithmetic returns the canonical NaN, x86 propagates the operand's payload;
// payload bytes themselves are compared exactly).
inline size_t first_diff_bits(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (bits_of(a[i]) != bits_of(b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return i;
  return a.size() == b.size() ? SIZE_MAX : std::min(a.size(), b.size());
}

// GPU decode and decode_add of the CPU payload against the CPU's, bit for bit
// (NaN payload bits aside).
inline void check_decode(const Compressor& c, const DeviceCompressor& d, const std::vector<uint8_t>& payload,
                         size_t n, uint32_t seed, size_t in_shift = 0, size_t out_shift = 0) {
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

// Every spec has a GPU twin exactly when built with CUDA (runs everywhere).
inline void expect_twins_exactly_with_cuda(std::initializer_list<const char*> specs) {
  for (const char* spec : specs) {
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

// The twins' decode and decode_add reject a wrong payload size on the host,
// before any launch (needs no device; skips in a build without CUDA).
inline void expect_payload_size_checked_on_host(std::initializer_list<const char*> specs) {
  for (const char* spec : specs) {
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

}  // namespace test
}  // namespace gw
