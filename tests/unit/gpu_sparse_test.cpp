// GPU twins of the sparsifiers (topk, randomk) against the CPU codecs: payload
// bytes identical (topk with index=raw, both select modes; odd and prime n,
// heavy ties that force the sampled path back to the exact one, NaN / Inf),
// decode / decode_add bit-identical, fused and generic error feedback equal to
// Compressor::encode_feedback (state and payload, both modes, several steps),
// the device DataOps with feedback and with index=auto payloads from a CPU
// peer, and corrupt payloads: flagged (GW_ERR_CORRUPT through the DataOps), and
// nothing written outside the output (guard bytes; run under compute-sanitizer
// memcheck for the rest). Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "src/algo/data_ops.h"
#include "tests/unit/codec_test_util.h"
#include "tests/unit/gpu_test_util.h"
#include "src/spec/registry.h"
#include "compressors/topk/topk.h"

namespace gw {
namespace {

using test::check_decode;
using test::DevBuf;
using test::encode_both;
using test::first_diff;
using test::first_diff_bits;
using test::gaussian;
using test::kInf;
using test::kNaN;

enum class Data { kGauss, kTies, kCoarse, kSpecial };

// kTies: values from {0, +-1, +-2}: the k-th magnitude is shared by a large run
// (the sampled path finds too many survivors and falls back). kCoarse: Gaussian
// rounded to 1/8: ties at the threshold with a sampled path that succeeds.
std::vector<float> data(size_t n, Data kind, uint32_t seed) {
  std::vector<float> v = gaussian(n, seed, 1.0f);
  std::mt19937 gen(seed * 7 + 1);
  for (size_t i = 0; i < n; ++i) {
    if (kind == Data::kTies) v[i] = static_cast<float>(static_cast<int>(gen() % 5) - 2);
    if (kind == Data::kCoarse) v[i] = std::round(v[i] * 8.0f) / 8.0f;
    if (kind == Data::kSpecial && gen() % 997 == 0) v[i] = (gen() & 1) ? kNaN : ((gen() & 1) ? kInf : -kInf);
  }
  return v;
}

const size_t kSizes[] = {1, 2, 7, 97, 1000, 4099, 65537, 1000003};

TEST(GpuSparseFactory, TwinsExist) {
  test::expect_twins_exactly_with_cuda({"topk:density=0.01,index=raw", "topk:density=0.1,select=sample",
                                        "randomk:density=0.05"});
}

TEST(GpuSparse, TopkPayloadsMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  for (const char* sel : {"exact", "sample"}) {
    for (double density : {0.01, 0.1, 1.0}) {
      auto c = make_compressor(std::string("topk:density=") + std::to_string(density) + ",select=" + sel +
                               ",index=raw");
      auto d = make_device_compressor(*c);
      ASSERT_NE(d, nullptr);
      for (size_t n : kSizes) {
        if (density == 1.0 && n > 65537) continue;
        for (Data kind : {Data::kGauss, Data::kTies, Data::kCoarse, Data::kSpecial}) {
          const uint32_t seed = static_cast<uint32_t>(n * 31 + static_cast<int>(kind));
          const std::vector<float> x = data(n, kind, seed);
          // Payload buffers at any byte offset; float buffers are 4-aligned (as
          // every float array a caller can pass), at 0..8 bytes past 16.
          const size_t shift = n % 3;
          test::Pair p = encode_both(*c, *d, x, 0x1234567ull + n, 4 * shift, shift);
          const size_t at = first_diff(p.cpu, p.gpu);
          ASSERT_EQ(at, SIZE_MAX) << c->spec() << " n=" << n << " kind=" << static_cast<int>(kind)
                                  << ": payloads differ at byte " << at;
          EXPECT_EQ(p.cpu_nonfinite, p.gpu_nonfinite != 0) << c->spec() << " n=" << n;
          if (n <= 65537 && kind != Data::kTies) check_decode(*c, *d, p.cpu, n, seed, shift, 4 * (2 - shift));
        }
      }
    }
  }
}

TEST(GpuSparse, TopkLargeLayerBothModes) {
  GW_SKIP_WITHOUT_GPU();
  const size_t n = 16u << 20;
  const std::vector<float> x = data(n, Data::kGauss, 5);
  for (const char* spec : {"topk:density=0.01,select=exact,index=raw", "topk:density=0.01,select=sample,index=raw",
                           "topk:density=0.001,select=sample,index=raw"}) {
    auto c = make_compressor(spec);
    auto d = make_device_compressor(*c);
    test::Pair p = encode_both(*c, *d, x, 99);
    EXPECT_EQ(first_diff(p.cpu, p.gpu), SIZE_MAX) << spec;
  }
}

TEST(GpuSparse, RandomkPayloadsAndDecodeMatchCpu) {
  GW_SKIP_WITHOUT_GPU();
  for (double density : {0.01, 0.3, 1.0}) {
    auto c = make_compressor("randomk:density=" + std::to_string(density));
    auto d = make_device_compressor(*c);
    ASSERT_NE(d, nullptr);
    for (size_t n : kSizes) {
      const std::vector<float> x = data(n, Data::kSpecial, static_cast<uint32_t>(n));
      test::Pair p = encode_both(*c, *d, x, 0xabcdefull * n, 4 * (n % 3), n % 5);
      ASSERT_EQ(first_diff(p.cpu, p.gpu), SIZE_MAX) << c->spec() << " n=" << n;
      EXPECT_EQ(p.cpu_nonfinite, p.gpu_nonfinite != 0) << c->spec() << " n=" << n;
      check_decode(*c, *d, p.cpu, n, 3, n % 3, 4 * (n % 2));
    }
    test::Pair p0 = encode_both(*c, *d, {}, 77);  // n = 0: the key alone
    EXPECT_EQ(first_diff(p0.cpu, p0.gpu), SIZE_MAX);
  }
}

// Several steps of CPU encode_feedback against the device one, state and payload.
void check_feedback(const std::string& spec, size_t n, Feedback mode) {
  auto c = make_compressor(spec);
  auto d = make_device_compressor(*c);
  ASSERT_NE(d, nullptr);
  const size_t bytes = c->encoded_bytes(n);
  std::vector<float> s_cpu(n, 0.0f);
  DevBuf dg(4 * n), ds(4 * n), dout(bytes), dflag(4), dscr(d->feedback_scratch_bytes(n, mode));
  ds.upload(s_cpu.data(), 4 * n);
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> g = data(n, step == 2 ? Data::kCoarse : Data::kGauss, static_cast<uint32_t>(step + n));
    std::vector<uint8_t> out(bytes);
    bool nf = false;
    ASSERT_EQ(c->encode_feedback(g.data(), s_cpu.data(), n, mode, out.data(), 1000 + step, &nf), bytes);
    dg.upload(g.data(), 4 * n);
    device::fill(dflag.bytes(), 0, 4);
    ASSERT_EQ(d->encode_feedback(dg.floats(), ds.floats(), n, mode, dout.bytes(), 1000 + step,
                                 reinterpret_cast<int*>(dflag.bytes()), nullptr, dscr.bytes()),
              bytes);
    device::synchronize();
    const std::string what = spec + " n=" + std::to_string(n) + " mode=" + std::to_string(static_cast<int>(mode)) +
                             " step=" + std::to_string(step);
    EXPECT_EQ(first_diff(out, dout.download()), SIZE_MAX) << what << ": payload";
    const size_t at = first_diff_bits(s_cpu, ds.download_floats());
    ASSERT_EQ(at, SIZE_MAX) << what << ": state differs at " << at;
    EXPECT_TRUE(ds.guard_intact() && dout.guard_intact()) << what;
  }
}

TEST(GpuSparse, FeedbackMatchesCpu) {
  GW_SKIP_WITHOUT_GPU();
  for (Feedback mode : {Feedback::kResidual, Feedback::kEf21}) {
    for (size_t n : {size_t{97}, size_t{65537}, size_t{1000003}}) {
      check_feedback("topk:density=0.01,select=exact,index=raw", n, mode);
      check_feedback("topk:density=0.05,select=sample,index=raw", n, mode);
      check_feedback("randomk:density=0.1", n, mode);  // the generic path
    }
  }
}

// The device DataOps: feedback encodes into host memory, and a CPU peer's
// index=auto payloads (varint or bitmap) decode on the GPU.
TEST(GpuSparse, DeviceOpsFeedbackAndAutoPayloads) {
  GW_SKIP_WITHOUT_GPU();
  auto raw = make_compressor("topk:density=0.02,select=sample,index=raw");
  auto autoc = make_compressor("topk:density=0.02");
  auto dense = make_compressor("topk:density=0.4");  // bitmap wins
  auto ops = make_device_ops();
  ASSERT_NE(ops, nullptr);
  const size_t n = 100003;
  ASSERT_TRUE(ops->prepare({raw.get(), autoc.get(), dense.get()}, nullptr, 4 * raw->encoded_bytes(n),
                           4 * dense->encoded_bytes(n)));
  const std::vector<float> g = data(n, Data::kGauss, 8);
  std::vector<float> s(n, 0.25f);
  DevBuf dg(4 * n), ds(4 * n);
  dg.upload(g.data(), 4 * n);
  ds.upload(s.data(), 4 * n);
  std::vector<uint8_t> cpu(raw->encoded_bytes(n)), gpu(raw->encoded_bytes(n));
  raw->encode_feedback(g.data(), s.data(), n, Feedback::kResidual, cpu.data(), 5, nullptr);
  ops->encode(*raw, dg.floats(), n, gpu.data(), 5, Feedback::kResidual, ds.floats());
  EXPECT_FALSE(ops->finish_encodes());
  EXPECT_EQ(first_diff(cpu, gpu), SIZE_MAX);
  EXPECT_EQ(first_diff_bits(s, ds.download_floats()), SIZE_MAX);

  for (const Compressor* c : {autoc.get(), dense.get()}) {
    std::vector<uint8_t> p(c->encoded_bytes(n));
    p.resize(c->encode(g.data(), n, p.data(), 1, nullptr));
    ASSERT_NE(p[0], 1) << c->spec() << ": expected a varint or bitmap payload";
    std::vector<float> want(n), acc0 = gaussian(n, 3), want_acc = acc0;
    c->decode(p.data(), p.size(), n, want.data());
    c->decode_add(p.data(), p.size(), n, want_acc.data());
    DevBuf out(4 * n), acc(4 * n);
    acc.upload(acc0.data(), 4 * n);
    ops->stage(p.data(), p.size());
    ops->decode(*c, p.data(), p.size(), n, out.floats(), false);
    ops->decode(*c, p.data(), p.size(), n, acc.floats(), true);
    ops->finish_decodes();
    EXPECT_EQ(first_diff_bits(want, out.download_floats()), SIZE_MAX) << c->spec();
    EXPECT_EQ(first_diff_bits(want_acc, acc.download_floats()), SIZE_MAX) << c->spec();
  }
}

// Damaged raw payloads: flagged on the device, nothing written past the output.
TEST(GpuSparse, CorruptTopkPayloadsAreFlagged) {
  GW_SKIP_WITHOUT_GPU();
  auto c = make_compressor("topk:density=0.05,index=raw");
  auto d = make_device_compressor(*c);
  const size_t n = 1001, k = 51;
  ASSERT_EQ(static_cast<const TopkCompressor&>(*c).k(n), k);
  std::vector<uint8_t> good(c->encoded_bytes(n));
  c->encode(data(n, Data::kGauss, 4).data(), n, good.data(), 1, nullptr);
  auto put_u32 = [](std::vector<uint8_t>& p, size_t at, uint32_t v) { std::memcpy(p.data() + at, &v, 4); };
  auto get_u32 = [](const std::vector<uint8_t>& p, size_t at) {
    uint32_t v;
    std::memcpy(&v, p.data() + at, 4);
    return v;
  };
  struct Case {
    const char* what;
    std::vector<uint8_t> p;
  };
  std::vector<Case> cases;
  auto add = [&](const char* what, auto edit) {
    Case cs{what, good};
    edit(cs.p);
    cases.push_back(cs);
  };
  add("index == n", [&](std::vector<uint8_t>& p) { put_u32(p, 12 + 4 * (k - 1), static_cast<uint32_t>(n)); });
  add("index huge", [&](std::vector<uint8_t>& p) { put_u32(p, 12 + 4 * 7, 0xfffffff0u); });
  add("repeated", [&](std::vector<uint8_t>& p) { put_u32(p, 12 + 4 * 3, get_u32(p, 12 + 4 * 2)); });
  add("descending", [&](std::vector<uint8_t>& p) { put_u32(p, 12, get_u32(p, 12 + 4 * 5)); });
  add("count k-1", [&](std::vector<uint8_t>& p) { put_u32(p, 4, static_cast<uint32_t>(k - 1)); });
  add("count k+1", [&](std::vector<uint8_t>& p) { put_u32(p, 4, static_cast<uint32_t>(k + 1)); });
  add("section", [&](std::vector<uint8_t>& p) { put_u32(p, 8, static_cast<uint32_t>(4 * k - 4)); });
  add("format", [&](std::vector<uint8_t>& p) { p[0] = 9; });
  for (const Case& cs : cases) {
    for (bool addmode : {false, true}) {
      DevBuf din(cs.p.size()), dout(4 * n), dflag(4);
      din.upload(cs.p.data(), cs.p.size());
      device::fill(dout.bytes(), 0, 4 * n);
      device::fill(dflag.bytes(), 0, 4);
      d->decode_checked(din.bytes(), cs.p.size(), n, dout.floats(), addmode, reinterpret_cast<int*>(dflag.bytes()),
                        nullptr);
      device::synchronize();
      int flag = 0;
      device::copy_to_host(&flag, dflag.bytes(), 4);
      EXPECT_EQ(flag, 1) << cs.what;
      EXPECT_TRUE(dout.guard_intact()) << cs.what << ": wrote past the output";
    }
  }
  // The same through the device DataOps: GW_ERR_CORRUPT when it synchronizes.
  auto ops = make_device_ops();
  ASSERT_TRUE(ops->prepare({c.get()}, nullptr, 0, good.size()));
  DevBuf dout(4 * n);
  ops->decode(*c, cases[0].p.data(), cases[0].p.size(), n, dout.floats(), false);
  try {
    ops->finish_decodes();
    ADD_FAILURE() << "no error for a corrupt payload";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), GW_ERR_CORRUPT) << e.what();
  }
  ops->decode(*c, good.data(), good.size(), n, dout.floats(), false);  // the flag was cleared
  EXPECT_NO_THROW(ops->finish_decodes());
  // Wrong sizes are refused on the host, before any launch.
  EXPECT_THROW(d->decode(nullptr, good.size() + 1, n, dout.floats(), nullptr), Error);
  EXPECT_THROW(d->decode(nullptr, 5, n, dout.floats(), nullptr), Error);
}

}  // namespace
}  // namespace gw
