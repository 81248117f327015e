// gw-perf --json: the rows of a run as a JSON array, the format that
// plot_speedup.py and the result folders read.
#pragma once

#include <string>
#include <vector>

#include "bench/perf/row.h"

namespace perf {

// What every row of one run shares.
struct RunInfo {
  std::string op;  // "avg" | "sum"
  std::string transport;
  std::string config;
  std::string label;
  std::string date;
  int np = 0;
  int iters = 0;
  int warmup = 0;
  bool check = false;  // without --check, rel_err, err_bound and ranks_agree are null
};

// Writes the rows to path, one object per line. Returns false, with errno set,
// when the file cannot be written.
bool write_json_rows(const std::string& path, const std::vector<Row>& rows, const RunInfo& run);

}  // namespace perf
