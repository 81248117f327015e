// gw-kernel-bench: single-core codec throughput against memcpy.
//
// For 1 MiB and 64 MiB float32 inputs: a memcpy baseline, then encode / decode /
// decode_add of fp16, bf16, maxmin, qsgd (norm l2 and max) and nuq (bits 2, 4,
// 8; bucket 512). Bytes/s count
// the float32 input (encode) or output (decode) bytes. frac_of_memcpy =
// memcpy time / codec time for the same float32 buffer size, with memcpy timed
// in this binary (median of 15 after warm-up): >= 1 means at least as fast as a
// memcpy; the CPU target for the quantizers' encode (maxmin, qsgd, nuq) is >= 0.75
// (at most 1.33x memcpy; bench/results/cpu-encode-2026-11-23.md).
// frac_of_memcpy_cpu is the same ratio of thread CPU times, and the paired/
// benchmarks alternate memcpy and the op and report the median per-pair ratio
// (frac_of_memcpy_paired): both are steadier than wall-clock on a shared machine.
// GW_CPU_ISA=scalar|avx2|avx512 forces a path (shown in the label).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "compressors/common/hadamard.h"
#include "src/common/cpu_features.h"
#include "src/common/rng.h"
#include "src/spec/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Buffers {
  std::vector<float> x, acc, out;
  std::vector<uint8_t> payload, copy_dst;
  std::vector<float> copy_src;  // paired runs copy this, so the op's input is not left in cache
};

Buffers& buffers(size_t n) {
  static std::map<size_t, std::unique_ptr<Buffers>> all;
  auto& b = all[n];
  if (!b) {
    b.reset(new Buffers);
    b->x.resize(n);
    std::mt19937 gen(1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& v : b->x) v = d(gen);
    b->acc.assign(n, 0.0f);
    b->out.assign(n, 0.0f);
    b->payload.assign(4 * n + 4096, 0);
    b->copy_dst.assign(4 * n, 0);
    b->copy_src = b->x;
  }
  return *b;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct MemcpyTime {
  double real = 0, cpu = 0;
};

// One memcpy of n floats: median of 15 runs after 3 warm-up runs, in wall-clock
// and thread CPU seconds (CPU time is less disturbed by other processes).
MemcpyTime memcpy_time(size_t n) {
  static std::map<size_t, MemcpyTime> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  Buffers& b = buffers(n);
  std::vector<double> real, cpu;
  for (int rep = 0; rep < 18; ++rep) {
    double c0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    memcpy(b.copy_dst.data(), b.x.data(), 4 * n);
    benchmark::ClobberMemory();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double c = thread_cpu_seconds() - c0;
    if (rep >= 3) {
      real.push_back(s);
      cpu.push_back(c);
    }
  }
  std::sort(real.begin(), real.end());
  std::sort(cpu.begin(), cpu.end());
  MemcpyTime t;
  t.real = real[real.size() / 2];
  t.cpu = cpu[cpu.size() / 2];
  cache[n] = t;
  return t;
}

// Bytes/s of the float32 buffer and the ratios against memcpy of the same size.
void report_vs_memcpy(benchmark::State& state, const MemcpyTime& base, Clock::time_point t0, double c0, size_t n) {
  double per_iter = std::chrono::duration<double>(Clock::now() - t0).count() / state.iterations();
  double cpu_per_iter = (thread_cpu_seconds() - c0) / state.iterations();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 4 * n);
  state.counters["frac_of_memcpy"] = base.real / per_iter;
  state.counters["frac_of_memcpy_cpu"] = base.cpu / cpu_per_iter;
}

void BM_memcpy(benchmark::State& state, size_t n) {
  Buffers& b = buffers(n);
  for (auto _ : state) {
    memcpy(b.copy_dst.data(), b.x.data(), 4 * n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 4 * n);
}

enum class Op { ENCODE, DECODE, DECODE_ADD };

void BM_codec(benchmark::State& state, std::string spec, Op op, size_t n) {
  auto c = gw::make_compressor(spec);
  Buffers& b = buffers(n);
  const MemcpyTime base = memcpy_time(n);
  bool nf = false;
  const size_t bytes = c->encode(b.x.data(), n, b.payload.data(), gw::rng_derive_key(1, 0, 0, 0, 0), &nf);
  uint64_t step = 0;
  auto t0 = Clock::now();
  double c0 = thread_cpu_seconds();
  for (auto _ : state) {
    switch (op) {
      case Op::ENCODE:
        c->encode(b.x.data(), n, b.payload.data(), gw::rng_derive_key(1, ++step, 0, 0, 0), &nf);
        break;
      case Op::DECODE:
        c->decode(b.payload.data(), bytes, n, b.out.data());
        break;
      case Op::DECODE_ADD:
        c->decode_add(b.payload.data(), bytes, n, b.acc.data());
        break;
    }
    benchmark::ClobberMemory();
  }
  report_vs_memcpy(state, base, t0, c0, n);
  state.counters["bits_per_value"] = 8.0 * bytes / n;
  state.SetLabel(gw::cpu_isa_name(gw::cpu_isa()));
}

// The randomized Hadamard transform of the rotation-based codecs, in place
// (compressors/common/hadamard.h): repeated rotations stay bounded (orthonormal).
void BM_rotate(benchmark::State& state, size_t n) {
  Buffers& b = buffers(n);
  const MemcpyTime base = memcpy_time(n);
  b.out = b.x;
  uint64_t key = 0;
  auto t0 = Clock::now();
  double c0 = thread_cpu_seconds();
  for (auto _ : state) {
    gw::hadamard::rotate(b.out.data(), n, ++key);
    benchmark::ClobberMemory();
  }
  report_vs_memcpy(state, base, t0, c0, n);
}

// The same op and a memcpy of the same buffer, alternated: each iteration times
// one memcpy and one op back to back, and frac_of_memcpy_paired is the median of
// the per-pair ratios memcpy_time / op_time, which cancels slow changes in machine
// load (shared CI machines). The reported time is the op's alone.
void BM_paired(benchmark::State& state, std::string spec, Op op, size_t n) {
  auto c = gw::make_compressor(spec);
  Buffers& b = buffers(n);
  bool nf = false;
  const size_t bytes = c->encode(b.x.data(), n, b.payload.data(), gw::rng_derive_key(1, 0, 0, 0, 0), &nf);
  uint64_t step = 0;
  std::vector<double> ratios;
  for (auto _ : state) {
    auto t0 = Clock::now();
    memcpy(b.copy_dst.data(), b.copy_src.data(), 4 * n);
    benchmark::ClobberMemory();
    auto t1 = Clock::now();
    switch (op) {
      case Op::ENCODE:
        c->encode(b.x.data(), n, b.payload.data(), gw::rng_derive_key(1, ++step, 0, 0, 0), &nf);
        break;
      case Op::DECODE:
        c->decode(b.payload.data(), bytes, n, b.out.data());
        break;
      case Op::DECODE_ADD:
        c->decode_add(b.payload.data(), bytes, n, b.acc.data());
        break;
    }
    benchmark::ClobberMemory();
    auto t2 = Clock::now();
    double m = std::chrono::duration<double>(t1 - t0).count(), o = std::chrono::duration<double>(t2 - t1).count();
    ratios.push_back(m / o);
    state.SetIterationTime(o);
  }
  std::sort(ratios.begin(), ratios.end());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 4 * n);
  state.counters["frac_of_memcpy_paired"] = ratios.empty() ? 0.0 : ratios[ratios.size() / 2];
  state.SetLabel(gw::cpu_isa_name(gw::cpu_isa()));
}

}  // namespace

int main(int argc, char** argv) {
  const size_t sizes[] = {size_t(1) << 18, size_t(1) << 24};  // 1 MiB, 64 MiB of float32
  const char* specs[] = {"fp16",
                         "bf16",
                         "maxmin:bits=2,bucket=512",
                         "maxmin:bits=4,bucket=512",
                         "maxmin:bits=8,bucket=512",
                         "qsgd:bits=2,bucket=512",
                         "qsgd:bits=4,bucket=512",
                         "qsgd:bits=8,bucket=512",
                         "qsgd:bits=2,bucket=512,norm=max",
                         "qsgd:bits=4,bucket=512,norm=max",
                         "qsgd:bits=8,bucket=512,norm=max",
                         "nuq:bits=2,bucket=512",
                         "nuq:bits=4,bucket=512",
                         "nuq:bits=8,bucket=512",
                         "topk:density=0.01,select=sample",
                         "topk:density=0.01,select=exact",
                         "randomk:density=0.01"};
  const struct {
    Op op;
    const char* name;
  } ops[] = {{Op::ENCODE, "encode"}, {Op::DECODE, "decode"}, {Op::DECODE_ADD, "decode_add"}};
  for (size_t n : sizes) {
    std::string size_name = n * 4 >= (size_t(1) << 20) ? std::to_string(n * 4 >> 20) + "MiB"
                                                       : std::to_string(n * 4 >> 10) + "KiB";
    benchmark::RegisterBenchmark(("rotate/hadamard/" + size_name).c_str(), BM_rotate, n)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("memcpy/" + size_name).c_str(), BM_memcpy, n)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    for (const char* spec : specs)
      for (auto& op : ops)
        benchmark::RegisterBenchmark((std::string(op.name) + "/" + spec + "/" + size_name).c_str(), BM_codec,
                                     std::string(spec), op.op, n)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    for (const char* spec : specs)
      for (auto& op : ops)
        benchmark::RegisterBenchmark((std::string("paired/") + op.name + "/" + spec + "/" + size_name).c_str(),
                                     BM_paired, std::string(spec), op.op, n)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
