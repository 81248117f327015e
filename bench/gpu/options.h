// gw-gpu-bench's command line. Parsed in a C++ translation unit of its own so
// that nvcc never compiles Boost.Program_options.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gpubench {

struct Options {
  std::vector<size_t> sizes_mib = {64, 256};
  int reps = 30;   // at least 3 (a median of fewer says little)
  int batch = 1;   // back-to-back calls per sample, at least 1
  std::vector<std::string> specs = {"maxmin:bits=2,bucket=512", "maxmin:bits=4,bucket=512",
                                    "maxmin:bits=8,bucket=512", "maxmin:bits=4,bucket=128",
                                    "maxmin:bits=4,bucket=2048", "qsgd:bits=4,bucket=512",
                                    "qsgd:bits=8,bucket=512", "nuq:bits=4,bucket=512",
                                    "nuq:bits=8,bucket=512", "eden:bits=2",
                                    "eden:bits=4", "fp16", "bf16", "none"};
};

// Parses the command line. --help prints the options and exits 0; a bad
// command line prints one line and exits 1.
Options parse_options(int argc, char** argv);

}  // namespace gpubench
