// gw-lossless-report: what the lossless stage (lossless=elias|zstd) buys on the
// wire, and what it costs in time. For qsgd (norm l2), nuq and maxmin at bits
// 2, 4, 8 (bucket 512), each with lossless none / elias / zstd, it prints a
// markdown table per data set: bits per value on the wire (payload bytes * 8 /
// values, length prefixes and scales included, message headers not) and
// single-thread encode / decode throughput in MB/s of float32 data. Buffers are
// encoded in pieces of 64 Ki values, as the collective does. Every decode is
// checked to be bit-identical to the inner codec's.
//
// Data sets: gaussian (N(0,1)); laplace-layers (synthetic gradient-like: 24
// layers of 1 Ki..512 Ki values, Laplace within a layer, per-layer scales over
// 3 decades, 0.1% outliers x30); and, with --grads DIR, real gradients: every
// DIR/*.f32 file (raw little-endian float32, one layer each, e.g. from
// bench/lossless/dump_fmnist_grads.py).
//
//   gw-lossless-report [--grads DIR] [--reps 3]   (--help: the options)
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "src/algo/plan.h"
#include "bench/cli/command_line.h"
#include "src/common/error.h"
#include "compressors/lossless/lossless.h"
#include "src/spec/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

struct DataSet {
  std::string name;
  std::vector<std::vector<float>> layers;
  size_t values() const {
    size_t n = 0;
    for (auto& l : layers) n += l.size();
    return n;
  }
};

DataSet gaussian(size_t n) {
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  DataSet s{"gaussian N(0,1), " + std::to_string(n) + " values", {std::vector<float>(n)}};
  for (float& v : s.layers[0]) v = d(g);
  return s;
}

DataSet laplace_layers() {
  std::mt19937 g(2);
  std::exponential_distribution<float> e(1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  DataSet s{"laplace-layers (synthetic gradients: 24 layers, per-layer scales 1e-4..1e-1, 0.1% outliers x30)", {}};
  for (int l = 0; l < 24; ++l) {
    const size_t n = size_t(1024) << (l % 10);
    const float scale = std::pow(10.0f, -4.0f + 3.0f * u(g));
    std::vector<float> v(n);
    for (float& x : v) {
      x = e(g) * scale * (u(g) < 0.5f ? -1.0f : 1.0f);
      if (u(g) < 0.001f) x *= 30.0f;
    }
    s.layers.push_back(std::move(v));
  }
  s.name += ", " + std::to_string(s.values()) + " values";
  return s;
}

bool load_dir(const std::string& dir, DataSet* s) {
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string f = e->d_name;
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".f32") == 0) files.push_back(f);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    std::ifstream in(dir + "/" + f, std::ios::binary | std::ios::ate);
    const size_t bytes = static_cast<size_t>(in.tellg());
    std::vector<float> v(bytes / 4);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
    if (!v.empty()) s->layers.push_back(std::move(v));
  }
  s->name = "real gradients (" + dir + ": " + std::to_string(s->layers.size()) + " layers, " +
            std::to_string(s->values()) + " values)";
  return !s->layers.empty();
}

struct Encoded {
  std::vector<std::vector<uint8_t>> pieces;  // per layer, pieces back to back
  size_t bytes = 0;
};

// Encodes every layer in collective-sized pieces; returns seconds.
double encode_all(const gw::Compressor& c, const DataSet& s, Encoded* e) {
  e->pieces.assign(s.layers.size(), {});
  e->bytes = 0;
  auto t0 = Clock::now();
  for (size_t l = 0; l < s.layers.size(); ++l) {
    const std::vector<float>& x = s.layers[l];
    std::vector<uint8_t>& out = e->pieces[l];
    size_t cap = 0;
    for (size_t i = 0; i < x.size(); i += gw::kPieceElems) cap += c.encoded_bytes(std::min(gw::kPieceElems, x.size() - i));
    out.resize(cap);
    size_t off = 0;
    for (size_t i = 0; i < x.size(); i += gw::kPieceElems) {
      const size_t n = std::min(gw::kPieceElems, x.size() - i);
      off += c.encode(x.data() + i, n, out.data() + off, (l << 32) + i, nullptr);
    }
    out.resize(off);
    e->bytes += off;
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double decode_all(const gw::Compressor& c, const DataSet& s, const Encoded& e, std::vector<std::vector<float>>* y) {
  y->resize(s.layers.size());
  auto t0 = Clock::now();
  for (size_t l = 0; l < s.layers.size(); ++l) {
    const size_t total = s.layers[l].size();
    (*y)[l].resize(total);
    const std::vector<uint8_t>& in = e.pieces[l];
    size_t off = 0;
    for (size_t i = 0; i < total; i += gw::kPieceElems) {
      const size_t n = std::min(gw::kPieceElems, total - i);
      const size_t len = c.payload_extent(in.data() + off, in.size() - off, n);
      c.decode(in.data() + off, len, n, (*y)[l].data() + i);
      off += len;
    }
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void report(const DataSet& s, int reps) {
  std::printf("\n### %s\n\n", s.name.c_str());
  std::printf("| spec | lossless | bits/value | vs none | encode MB/s | decode MB/s |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
  const double mb = static_cast<double>(s.values()) * 4 / 1e6;
  for (const char* fam : {"qsgd", "nuq", "maxmin"}) {
    for (int bits : {2, 4, 8}) {
      const std::string inner = std::string(fam) + ":bits=" + std::to_string(bits) + ",bucket=512";
      double none_bits = 0;
      std::vector<std::vector<float>> ref;
      for (const char* mode : {"none", "elias", "zstd"}) {
        if (std::string(mode) == "zstd" && !gw::lossless_zstd_available()) continue;
        auto c = gw::make_compressor(inner + ",lossless=" + mode);
        Encoded e;
        std::vector<std::vector<float>> y;
        double te = 1e30, td = 1e30;
        for (int r = 0; r < reps; ++r) {
          te = std::min(te, encode_all(*c, s, &e));
          td = std::min(td, decode_all(*c, s, e, &y));
        }
        if (ref.empty()) ref = y;
        for (size_t l = 0; l < y.size(); ++l)
          if (std::memcmp(y[l].data(), ref[l].data(), y[l].size() * 4) != 0)
            gw::fail(GW_ERR_INTERNAL, inner, " lossless=", mode, ": decode differs from the inner codec's");
        const double bpv = 8.0 * static_cast<double>(e.bytes) / static_cast<double>(s.values());
        if (none_bits == 0) none_bits = bpv;
        std::printf("| `%s` | %s | %.3f | %.2fx | %.0f | %.0f |\n", inner.c_str(), mode, bpv, bpv / none_bits, mb / te,
                    mb / td);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  std::string grads;
  int reps = 3;
  bool help = false;
  po::options_description options("options");
  options.add_options()
      ("help,h", po::bool_switch(&help), "print this help")
      ("grads", po::value(&grads)->value_name("DIR"),
       "also report real gradients: every DIR/*.f32 (raw little-endian float32, one layer each)")
      ("reps", po::value(&reps)->value_name("N")->default_value(reps),
       "runs per measurement, the best counts (at least 1)");
  try {
    bench::parse_command_line(argc, argv, options);
  } catch (const bench::UsageError& e) {
    std::fprintf(stderr, "gw-lossless-report: %s (try --help)\n", e.what());
    return 2;
  }
  if (help) {
    std::cout << "usage: gw-lossless-report [options]\n" << options;
    return 0;
  }
  reps = std::max(1, reps);
  try {
    std::printf("Bits per value on the wire (payload only; one 80-byte header per message not counted), "
                "bucket 512, pieces of %zu values; throughput single-thread, MB/s of float32, best of %d.\n",
                gw::kPieceElems, reps);
    report(gaussian(size_t(1) << 22), reps);
    report(laplace_layers(), reps);
    if (!grads.empty()) {
      DataSet real;
      if (!load_dir(grads, &real)) {
        std::fprintf(stderr, "no *.f32 files in %s\n", grads.c_str());
        return 1;
      }
      report(real, reps);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
