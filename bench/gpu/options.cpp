#include "bench/gpu/options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bench/cli/command_line.h"
#include "bench/cli/split.h"

namespace po = boost::program_options;

namespace gpubench {
namespace {

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::vector<size_t> parse_mib(const std::string& v) {
  std::vector<size_t> out;
  for (const std::string& item : bench::split(v, ',')) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(item.c_str(), &end, 10);
    if (*end != '\0' || n == 0 || item[0] == '-') throw bench::UsageError("bad size '" + item + "' in --sizes-mib");
    out.push_back(static_cast<size_t>(n));
  }
  if (out.empty()) throw bench::UsageError("--sizes-mib is empty");
  return out;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  std::string sizes = "64,256", specs = joined(o.specs, ";");
  bool help = false;
  po::options_description d("options", 100, 40);
  d.add_options()
      ("help,h", po::bool_switch(&help), "print this help")
      ("sizes-mib", po::value(&sizes)->value_name("A,B,...")->default_value(sizes),
       "float32 input sizes in MiB")
      ("reps", po::value(&o.reps)->value_name("N")->default_value(o.reps),
       "timed runs per figure, the median counts (at least 3)")
      ("batch", po::value(&o.batch)->value_name("B")->default_value(o.batch),
       "back-to-back calls per timed run, time divided by B (at least 1)")
      ("specs", po::value(&specs)->value_name("S1;S2;..."),
       "compressor specs (default: maxmin bits 2, 4, 8 and bucket 128, 2048; qsgd and nuq bits 4, 8; "
       "eden bits 2, 4; fp16; bf16; none)");
  try {
    bench::parse_command_line(argc, argv, d);
    o.sizes_mib = parse_mib(sizes);
    o.specs = bench::split(specs, ';');
    if (o.specs.empty()) throw bench::UsageError("--specs is empty");
  } catch (const bench::UsageError& e) {
    std::fprintf(stderr, "gw-gpu-bench: %s (try --help)\n", e.what());
    std::exit(1);
  }
  if (help) {
    std::cout << "usage: gw-gpu-bench [options]\n" << d;
    std::exit(0);
  }
  o.reps = std::max(3, o.reps);
  o.batch = std::max(1, o.batch);
  return o;
}

}  // namespace gpubench
