// gw-perf: the collective benchmark table of gradwire (in the manner of nccl-tests / OSU).
//
//   mpirun -np N gw-perf --compressor "maxmin:bits=4;fp16;none" --sizes 1K:64M
//          --iters 20 --warmup 5 --check --json out.json
//
// One row per (size, compressor). Each row's baseline is a plain
// MPI_Allreduce(MPI_SUM, MPI_FLOAT) of the same buffer, interleaved with the
// compressed call in the same run (the two alternate, and which goes first
// alternates every iteration), so that a noisy shared machine hits both alike.
//
// Timing: a barrier before every timed call; a call's time is the max over ranks
// of each rank's elapsed time; the table reports the MEDIAN of those over the
// timed iterations (the JSON adds min, mean and max). speedup = baseline / time
// with both medians (speedup_min in the JSON: min over min).
//
// Uses only the public C API (gradwire.h) and MPI. Only rank 0 prints the table;
// a rank that sees a failing gw_* call prints the status and gw_last_error().
// Exit code: 0 ok, 1 a --check bound was exceeded (or ranks disagreed),
// 2 a gw_* call failed, 3 bad command line (or --device without a usable GPU).
// Host buffers (the default) never call the CUDA runtime, so a CUDA build runs
// them on a machine without a GPU or driver.

// Only MPI's C API is used (the library links MPI::MPI_C): skip the C++ bindings.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <memory>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <unistd.h>  // environ

#include "bench/cli/command_line.h"
#include "bench/cli/split.h"
#include "bench/perf/device_memory.h"
#include "bench/perf/json_rows.h"
#include "bench/perf/nccl_baseline.h"
#include "bench/perf/options.h"
#include "bench/perf/row.h"
#include "gradwire/gradwire.h"

namespace {

using perf::Options;
using perf::Row;
using perf::Summary;

int g_rank = 0;
int g_size = 1;

// ---- small helpers --------------------------------------------------------------

// A bad command line: rank 0 says why in one line; every rank exits 3.
[[noreturn]] void usage_error(const char* why) {
  if (g_rank == 0) std::fprintf(stderr, "gw-perf: %s (try --help)\n", why);
  MPI_Finalize();
  std::exit(3);
}

// A failing gw_* call: name it, print the detail, and abort the job (the other
// ranks may be waiting inside a collective that will never complete).
void check_gw(gw_status st, const char* what) {
  if (st == GW_SUCCESS) return;
  const char* name = gw_status_string(st);
  const char* detail = gw_last_error();
  // The detail may already start with the status name: do not say it twice.
  if (std::strncmp(detail, name, std::strlen(name)) == 0) {
    std::fprintf(stderr, "gw-perf: rank %d: %s failed: %s\n", g_rank, what, detail);
  } else {
    std::fprintf(stderr, "gw-perf: rank %d: %s failed: %s: %s\n", g_rank, what, name, detail);
  }
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::exit(2);
}

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  std::fprintf(stderr, "gw-perf: rank %d: %s failed: %s\n", g_rank, what, msg);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::exit(2);
}

// The command line, or exit: 0 after --help, 3 when it is bad (rank 0 says why).
Options parse_args(int argc, char** argv) {
  Options o;
  try {
    o = perf::parse_options(argc, argv);
  } catch (const bench::UsageError& e) {
    usage_error(e.what());
  }
  if (o.help) {
    if (g_rank == 0) std::fputs(perf::help_text().c_str(), stdout);
    MPI_Finalize();
    std::exit(0);
  }
  return o;
}

// ---- input data -----------------------------------------------------------------

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Approximately N(0,1) from one 64-bit hash: Irwin-Hall sum of four 16-bit uniforms.
inline float gaussish(uint64_t h) {
  float s = static_cast<float>(h & 0xFFFF) + static_cast<float>((h >> 16) & 0xFFFF) +
            static_cast<float>((h >> 32) & 0xFFFF) + static_cast<float>(h >> 48);
  // mean 4 * 32767.5, variance 4 * 65536^2 / 12  ->  standardize.
  return (s - 131070.0f) * (1.0f / 37837.23f);
}

// Gradient-like values, a pure function of (seed, rank, index): blocks of 4096
// values share a magnitude spread over two decades (layers differ in scale); inside
// a block every rank sees a common signal plus its own noise of similar size,
// so the mean over ranks is far from zero but the ranks really differ (noise:
// the size of a rank's own part against the common one, --rank-noise).
void fill_input(float* x, size_t count, uint64_t seed, int rank, float noise_scale) {
  const uint64_t kseed = splitmix64(seed);
  const uint64_t rseed = splitmix64(seed ^ (0xA5A5A5A5ull + static_cast<uint64_t>(rank) * 0x100000001B3ull));
  for (size_t b = 0; b < count; b += 4096) {
    uint64_t hb = splitmix64(kseed ^ (b / 4096) ^ 0x5DEECE66Dull);
    float scale = std::pow(10.0f, -3.0f + 2.0f * static_cast<float>(hb >> 40) / 16777216.0f);
    size_t e = std::min(count, b + 4096);
    for (size_t i = b; i < e; ++i) {
      float common = gaussish(splitmix64(kseed + i));
      float noise = gaussish(splitmix64(rseed + i));
      x[i] = scale * (common + noise_scale * noise);
    }
  }
}

// ---- statistics over iterations -------------------------------------------------

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(n);
  return s;
}

double check_bound(const Options& o, const std::string& compressor) {
  if (o.max_err >= 0) return o.max_err;
  std::string name = compressor.substr(0, compressor.find(':'));
  if (name == "none") return 1e-6;
  if (name == "fp16") return 1e-2;
  if (name == "bf16") return 5e-2;
  // Sparsifiers and low rank (with error feedback on a repeated input) are not
  // meant to be close to the mean in one call: only finiteness is checked.
  if (name == "topk" || name == "randomk" || name == "powersgd") return INFINITY;
  // The lattice's error follows the distance between the ranks' inputs, not
  // their size: on the default input (each rank's noise 0.7 of the signal) it is
  // of the order of the signal at 4 bits.
  if (name == "lattice") return 1.5;
  // Quantizers: stochastic rounding to 2^bits levels per bucket. At 1 or 2 bits
  // the error of one call is of the order of the signal itself.
  size_t pos = compressor.find("bits=");
  // QSGD with the l2 norm (and NUQSGD) has E||Q(v)-v||^2 <= min(d/s^2, sqrt(d)/s) ||v||^2
  // per bucket of d values, s = 2^(bits-1)-1 levels: at 4 bits and d = 512 that
  // allows a relative error near 1.8 for one rank, which is what it is.
  if ((name == "qsgd" && compressor.find("norm=max") == std::string::npos) || name == "nuq") {
    int bits = pos != std::string::npos ? std::atoi(compressor.c_str() + pos + 5) : 4;
    size_t bpos = compressor.find("bucket=");
    double d = bpos != std::string::npos ? std::atof(compressor.c_str() + bpos + 7) : 512.0;
    double lv = std::ldexp(1.0, bits - 1) - 1.0;
    return 1.2 * std::sqrt(std::min(d / (lv * lv), std::sqrt(d) / lv));
  }
  if (pos != std::string::npos) {
    int bits = std::atoi(compressor.c_str() + pos + 5);
    if (bits == 1) return 4.0;
    if (bits == 2) return 1.5;
  }
  return 0.5;
}

// --device on a machine without a usable GPU (or driver): every rank finds out
// together, the first rank that lacks one says why in one line, and all exit 3
// (the command line asks for what this machine cannot do) instead of one rank
// dying while the others wait in a collective.
void require_device() {
  const std::string why = perf::device_unavailable();
  int mine = why.empty() ? g_size : g_rank, first = g_size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == g_size) return;
  if (g_rank == first) {
    if (first == 0) std::fprintf(stderr, "gw-perf: --device needs a CUDA GPU: %s\n", why.c_str());
    else std::fprintf(stderr, "gw-perf: --device needs a CUDA GPU: rank %d: %s\n", first, why.c_str());
  }
  MPI_Finalize();
  std::exit(3);
}

std::string now_string() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return buf;
}

uint64_t fnv1a(const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  Options o = parse_args(argc, argv);

  std::string config = o.config;
  if (!o.algorithm.empty()) {
    if (!config.empty() && config.back() != ';') config += ';';
    config += "algorithm=" + o.algorithm;
  }

  const bool nccl = o.transport == "nccl";
  if (o.device) {
    require_device();
    perf::select_device(g_rank);  // one GPU per rank where there are enough
  }
  gw_comm_t comm = nullptr;
  if (nccl) check_gw(gw_comm_create_nccl_mpi(&comm, MPI_COMM_WORLD, config.c_str()), "gw_comm_create_nccl_mpi");
  else check_gw(gw_comm_create_mpi(&comm, MPI_COMM_WORLD, config.c_str()), "gw_comm_create_mpi");
  std::unique_ptr<perf::NcclBaseline> nccl_base(nccl ? new perf::NcclBaseline(MPI_COMM_WORLD) : nullptr);
  void* stream = o.device ? perf::stream_create() : nullptr;
  int version = 0;
  check_gw(gw_get_version(&version), "gw_get_version");

  uint64_t max_size = *std::max_element(o.sizes.begin(), o.sizes.end());
  size_t max_count = static_cast<size_t>(max_size / sizeof(float));
  std::vector<float> send(max_count), out(max_count);
  std::vector<double> exact;  // fp64 exact result, only with --check
  std::vector<double> dtmp;
  if (o.check) {
    exact.resize(max_count);
    dtmp.resize(std::min<size_t>(max_count, size_t(1) << 22));
  }
  std::fill(out.begin(), out.end(), 0.0f);  // touch the pages before timing
  // --device: gradwire gets device pointers; the baseline is what a user of a
  // host-only MPI does with them: copy down, MPI_Allreduce, copy up.
  void* d_send = nullptr;
  void* d_out = nullptr;
  if (o.device) {
    d_send = perf::device_alloc(max_count * sizeof(float));
    d_out = perf::device_alloc(max_count * sizeof(float));
  }

  // ---- header -------------------------------------------------------------------
  char host[MPI_MAX_PROCESSOR_NAME] = {0};
  int host_len = 0;
  MPI_Get_processor_name(host, &host_len);
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int mpi_version_len = 0;
  MPI_Get_library_version(mpi_version, &mpi_version_len);
  std::string mpi_first_line(mpi_version);
  mpi_first_line = bench::trim(mpi_first_line.substr(0, mpi_first_line.find_first_of("\n,")));
  // Distinct host names over ranks (gathered fixed-width).
  std::vector<char> hosts(static_cast<size_t>(g_size) * MPI_MAX_PROCESSOR_NAME);
  MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0,
             MPI_COMM_WORLD);
  size_t cwidth = 10;
  for (auto& c : o.compressors) cwidth = std::max(cwidth, c.size());
  if (g_rank == 0) {
    std::vector<std::string> distinct;
    for (int r = 0; r < g_size; ++r) {
      std::string h(&hosts[static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME]);
      if (std::find(distinct.begin(), distinct.end(), h) == distinct.end()) distinct.push_back(h);
    }
    std::string host_list;
    for (auto& h : distinct) host_list += (host_list.empty() ? "" : ",") + h;
    std::printf("# gw-perf  gradwire %d.%d.%d  %s\n", version / 10000, (version / 100) % 100, version % 100,
                mpi_first_line.c_str());
    std::printf("# date: %s\n", now_string().c_str());
    std::printf("# np: %d  hosts: %s\n", g_size, host_list.c_str());
    std::printf("# transport: %s  buffers: %s  op: %s  dtype: float32  config: \"%s\"\n", o.transport.c_str(),
                o.device ? "device" : "host", o.op == GW_AVG ? "avg" : "sum", config.c_str());
    if (!o.label.empty()) std::printf("# label: %s\n", o.label.c_str());
    for (char** e = environ; e && *e; ++e) {
      if (std::strncmp(*e, "GW_", 3) == 0) std::printf("# env: %s\n", *e);
    }
    std::printf("# iters: %d  warmup: %d  check: %s  seed: %" PRIu64 "  rank noise: %g\n", o.iters, o.warmup,
                o.check ? "yes" : "no", o.seed, o.rank_noise);
    std::printf("# time = median over iters of (max over ranks), barrier before each call;"
                " baseline = %s, interleaved\n",
                nccl ? "ncclAllReduce(sum, float) of the same device buffer"
                     : o.device ? "copy to host, MPI_Allreduce(MPI_SUM, float), copy back"
                                : "MPI_Allreduce(MPI_SUM, float)");
    std::printf("# wire = max over ranks of bytes sent per call; ratio = size/wire;"
                " speedup = baseline/time (medians)\n");
    std::printf("#\n");
    std::printf("# %10s %11s %5s  %-*s %11s %11s %11s %12s %7s %9s %12s %8s\n", "size(B)", "count", "type",
                static_cast<int>(cwidth), "compressor", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "wire(B)",
                "ratio", "rel_err", "baseline(us)", "speedup");
    std::fflush(stdout);
  }

  std::vector<Row> rows;
  bool any_fail = false;
  const int total_iters = o.warmup + o.iters;
  std::vector<double> t_gw(static_cast<size_t>(o.iters)), t_base(static_cast<size_t>(o.iters));
  std::vector<double> t_gw_max(t_gw.size()), t_base_max(t_base.size());

  for (uint64_t size : o.sizes) {
    const size_t count = static_cast<size_t>(size / sizeof(float));
    const uint64_t bytes = static_cast<uint64_t>(count) * sizeof(float);
    fill_input(send.data(), count, o.seed, g_rank, static_cast<float>(o.rank_noise));
    if (o.device) perf::copy_to_device(d_send, send.data(), count * sizeof(float));
    const void* gw_send = o.device ? d_send : static_cast<const void*>(send.data());
    void* gw_out = o.device ? d_out : static_cast<void*>(out.data());

    if (o.check) {
      // Exact result in fp64: MPI_Allreduce(SUM) of double copies, chunked.
      const double scale = o.op == GW_AVG ? 1.0 / g_size : 1.0;
      for (size_t b = 0; b < count; b += dtmp.size()) {
        size_t n = std::min(dtmp.size(), count - b);
        for (size_t i = 0; i < n; ++i) dtmp[i] = send[b + i];
        check_mpi(MPI_Allreduce(dtmp.data(), exact.data() + b, static_cast<int>(n), MPI_DOUBLE, MPI_SUM,
                                MPI_COMM_WORLD),
                  "MPI_Allreduce (fp64 reference)");
        for (size_t i = 0; i < n; ++i) exact[b + i] *= scale;
      }
    }

    for (const std::string& compressor : o.compressors) {
      Row row;
      row.size = bytes;
      row.count = count;
      row.compressor = compressor;
      row.layer = "perf." + compressor + "." + std::to_string(bytes);
      const char* layer = row.layer.c_str();
      check_gw(gw_layer_set_spec(comm, layer, compressor.c_str()), "gw_layer_set_spec");
      if (o.matrix) {
        int64_t rows = 1;
        while (static_cast<uint64_t>(rows * 2) * static_cast<uint64_t>(rows * 2) <= count && count % (rows * 2) == 0)
          rows *= 2;
        const int64_t dims[2] = {rows, static_cast<int64_t>(count) / rows};
        check_gw(gw_layer_set_shape(comm, layer, 2, dims), "gw_layer_set_shape");
      }
      char spec_buf[512] = {0};
      check_gw(gw_layer_get_spec(comm, layer, spec_buf, sizeof spec_buf), "gw_layer_get_spec");
      row.spec = spec_buf;

      gw_stats s0{}, s1{};
      for (int it = 0; it < total_iters; ++it) {
        if (it == o.warmup) check_gw(gw_layer_stats(comm, layer, &s0), "gw_layer_stats");
        // Alternate which call goes first, so neither always follows the other.
        for (int half = 0; half < 2; ++half) {
          bool do_base = (half == 0) == (it % 2 == 0);
          MPI_Barrier(MPI_COMM_WORLD);
          double t0 = MPI_Wtime();
          if (do_base && nccl) {
            nccl_base->allreduce(d_send, d_out, count, stream);
            perf::stream_sync(stream);
          } else if (do_base) {
            if (o.device) perf::copy_to_host(send.data(), d_send, count * sizeof(float));
            check_mpi(MPI_Allreduce(send.data(), out.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                                    MPI_COMM_WORLD),
                      "MPI_Allreduce (baseline)");
            if (o.device) perf::copy_to_device(d_out, out.data(), count * sizeof(float));
          } else {
            check_gw(gw_allreduce(comm, layer, gw_send, gw_out, count, GW_FLOAT32, o.op, stream), "gw_allreduce");
            if (nccl) perf::stream_sync(stream);  // stream-ordered: the call returned before the work ended
          }
          double dt = MPI_Wtime() - t0;
          if (it >= o.warmup) (do_base ? t_base : t_gw)[static_cast<size_t>(it - o.warmup)] = dt;
        }
      }
      // The last call of the last iteration: the baseline on odd-numbered last
      // iterations, so when checking, make one more (untimed) compressed call.
      if (o.check && (total_iters - 1) % 2 != 0) {
        check_gw(gw_layer_stats(comm, layer, &s1), "gw_layer_stats");
        check_gw(gw_allreduce(comm, layer, gw_send, gw_out, count, GW_FLOAT32, o.op, stream), "gw_allreduce");
        if (o.device) perf::stream_sync(stream);  // host buffers: the call returned with the result
      } else {
        check_gw(gw_layer_stats(comm, layer, &s1), "gw_layer_stats");
      }
      if (o.device && o.check) perf::copy_to_host(out.data(), d_out, count * sizeof(float));

      check_mpi(MPI_Allreduce(t_gw.data(), t_gw_max.data(), o.iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                "MPI_Allreduce (times)");
      check_mpi(MPI_Allreduce(t_base.data(), t_base_max.data(), o.iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                "MPI_Allreduce (times)");
      row.t = summarize(t_gw_max);
      row.base = summarize(t_base_max);

      // Per-call figures from the layer's statistics over the timed iterations.
      double calls = static_cast<double>(s1.calls - s0.calls);
      if (calls <= 0) calls = 1;  // library did not count calls: report totals
      double local[6] = {static_cast<double>(s1.bytes_sent - s0.bytes_sent) / calls,
                         static_cast<double>(s1.bytes_received - s0.bytes_received) / calls,
                         (s1.encode_seconds - s0.encode_seconds) / calls * 1e6,
                         (s1.decode_seconds - s0.decode_seconds) / calls * 1e6,
                         (s1.comm_seconds - s0.comm_seconds) / calls * 1e6,
                         (s1.total_seconds - s0.total_seconds) / calls * 1e6};
      double maxv[6], wire_min = 0;
      MPI_Allreduce(local, maxv, 6, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      MPI_Allreduce(&local[0], &wire_min, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
      row.wire = maxv[0];
      row.wire_max = maxv[0];
      row.wire_min = wire_min;
      row.recv_per_call = maxv[1];
      row.encode_us = maxv[2];
      row.decode_us = maxv[3];
      row.comm_us = maxv[4];
      row.total_us = maxv[5];
      row.stats_ratio = s1.compression_ratio;

      if (o.check) {
        // rel_err = ||out - exact|| / ||exact||, in fp64; also: do all ranks hold the
        // same bits (the API promises a bit-identical result on every rank)?
        double num = 0, den = 0;
        bool finite = true;
        for (size_t i = 0; i < count; ++i) {
          double d = static_cast<double>(out[i]) - exact[i];
          if (!std::isfinite(out[i])) finite = false;
          num += d * d;
          den += exact[i] * exact[i];
        }
        double err = finite ? (den > 0 ? std::sqrt(num / den) : std::sqrt(num)) : INFINITY;
        double err_max = 0;
        MPI_Allreduce(&err, &err_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        uint64_t h = fnv1a(out.data(), count * sizeof(float));
        uint64_t hmin = 0, hmax = 0;
        MPI_Allreduce(&h, &hmin, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&h, &hmax, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
        row.rel_err = err_max;
        row.agree = hmin == hmax;
        row.bound = check_bound(o, compressor);
        row.ok = row.agree && std::isfinite(err_max) && !(err_max > row.bound);
        if (!row.ok) any_fail = true;
      }

      if (g_rank == 0) {
        double tus = row.t.median * 1e6, bus = row.base.median * 1e6;
        double algbw = row.t.median > 0 ? static_cast<double>(bytes) / row.t.median / 1e9 : 0;
        double busbw = algbw * 2.0 * (g_size - 1) / g_size;
        double ratio = row.wire > 0 ? static_cast<double>(bytes) / row.wire : 0;
        char err_buf[32];
        if (o.check) {
          std::snprintf(err_buf, sizeof err_buf, "%.2e", row.rel_err);
        } else {
          std::snprintf(err_buf, sizeof err_buf, "-");
        }
        std::printf("  %10" PRIu64 " %11" PRIu64 " %5s  %-*s %11.1f %11.3f %11.3f %12.0f %7.2f %9s %12.1f %8.2f%s\n",
                    bytes, static_cast<uint64_t>(count), "float", static_cast<int>(cwidth), compressor.c_str(), tus,
                    algbw, busbw, row.wire, ratio, err_buf, bus, tus > 0 ? bus / tus : 0.0,
                    row.ok ? "" : (row.agree ? "  FAILED (rel_err above bound)" : "  FAILED (ranks disagree)"));
        std::fflush(stdout);
      }
      rows.push_back(row);
    }
  }

  if (g_rank == 0) {
    if (o.check) {
      std::printf("# check: %s\n", any_fail ? "FAILED" : "OK (every rel_err within its bound, ranks bit-identical)");
    }
    if (!o.json_path.empty()) {
      perf::RunInfo run;
      run.op = o.op == GW_AVG ? "avg" : "sum";
      run.transport = o.transport;
      run.config = config;
      run.label = o.label;
      run.date = now_string();
      run.np = g_size;
      run.iters = o.iters;
      run.warmup = o.warmup;
      run.check = o.check;
      if (!perf::write_json_rows(o.json_path, rows, run)) {
        std::fprintf(stderr, "gw-perf: cannot write %s: %s\n", o.json_path.c_str(), std::strerror(errno));
        any_fail = true;
      }
    }
  }

  check_gw(gw_comm_destroy(comm), "gw_comm_destroy");
  nccl_base.reset();
  perf::device_free(d_send);
  perf::device_free(d_out);
  perf::stream_destroy(stream);
  int fail_local = any_fail ? 1 : 0, fail_any = 0;
  MPI_Allreduce(&fail_local, &fail_any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return fail_any ? 1 : 0;
}
