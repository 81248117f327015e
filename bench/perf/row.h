// One row of gw-perf's table: what was measured for one (size, compressor).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace perf {

// A statistic over the timed iterations.
struct Summary {
  double median = 0, min = 0, max = 0, mean = 0;
};

struct Row {
  uint64_t size = 0;
  uint64_t count = 0;
  std::string compressor;  // as given
  std::string spec;        // canonical, from gw_layer_get_spec
  std::string layer;
  Summary t;               // compressed call, seconds (max over ranks per iteration)
  Summary base;            // MPI_Allreduce, seconds
  double wire = 0, wire_min = 0, wire_max = 0;  // bytes sent per call (max / min over ranks)
  double recv_per_call = 0;                     // bytes received per call (max over ranks)
  double stats_ratio = 0;                       // gw_stats.compression_ratio of the layer
  double encode_us = 0, decode_us = 0, comm_us = 0, total_us = 0;  // per call, max over ranks
  double rel_err = NAN;
  double bound = NAN;
  bool agree = true;
  bool ok = true;
};

}  // namespace perf
