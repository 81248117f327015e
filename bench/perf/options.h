// gw-perf's command line: the options, their defaults and checks, and --help.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gradwire/gradwire.h"

namespace perf {

struct Options {
  std::vector<std::string> compressors;
  std::vector<uint64_t> sizes;
  int iters = 20;
  int warmup = 5;
  bool check = false;
  bool device = false;  // --device: buffers in GPU memory
  std::string json_path;
  std::string algorithm;  // empty: leave it to the config / library default
  std::string config;
  std::string transport = "mpi";
  std::string label;
  bool matrix = false;  // --matrix: each layer gets a shape hint rows x cols (low-rank specs)
  gw_op op = GW_AVG;
  uint64_t seed = 12345;
  double rank_noise = 0.7;  // --rank-noise: each rank's own noise against the signal all ranks share
  double max_err = -1.0;  // < 0: per-compressor default
  bool help = false;      // --help: print help_text() and do nothing else
};

// Parses and checks the command line. Throws bench::UsageError (one line) when
// it is bad; MPI is not touched, so the caller decides which rank says so.
Options parse_options(int argc, char** argv);

// What --help prints.
std::string help_text();

}  // namespace perf
