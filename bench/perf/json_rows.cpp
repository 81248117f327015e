#include "bench/perf/json_rows.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

namespace perf {
namespace {

using Json = nlohmann::ordered_json;  // fields in the order a reader of the file expects

// A measured figure, to 6 significant digits (the file has always held "%.6g":
// more digits would be noise, and a figure that prints as an integer, such as
// wire_bytes, stays an integer for the readers); null for NaN/Inf.
Json figure(double v) {
  if (!std::isfinite(v)) return nullptr;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  const std::string text = buf;
  if (text.find_first_of(".eE") == std::string::npos) return std::stoll(text);
  return std::strtod(buf, nullptr);
}

double per_second(double bytes, double seconds) { return seconds > 0 ? bytes / seconds / 1e9 : 0; }

Json row_json(const Row& r, const RunInfo& run) {
  const double algbw = per_second(static_cast<double>(r.size), r.t.median);
  const double busbw = algbw * 2.0 * (run.np - 1) / run.np;
  Json j;
  j["size"] = r.size;
  j["count"] = r.count;
  j["type"] = "float";
  j["op"] = run.op;
  j["compressor"] = r.compressor;
  j["spec"] = r.spec;
  j["layer"] = r.layer;
  j["np"] = run.np;
  j["transport"] = run.transport;
  j["config"] = run.config;
  j["label"] = run.label;
  j["date"] = run.date;
  j["iters"] = run.iters;
  j["warmup"] = run.warmup;
  j["time_us"] = figure(r.t.median * 1e6);
  j["time_us_min"] = figure(r.t.min * 1e6);
  j["time_us_mean"] = figure(r.t.mean * 1e6);
  j["time_us_max"] = figure(r.t.max * 1e6);
  j["algbw_GBps"] = figure(algbw);
  j["busbw_GBps"] = figure(busbw);
  j["wire_bytes"] = figure(r.wire);
  j["wire_bytes_min"] = figure(r.wire_min);
  j["recv_bytes"] = figure(r.recv_per_call);
  j["ratio"] = figure(r.wire > 0 ? static_cast<double>(r.size) / r.wire : NAN);
  j["stats_compression_ratio"] = figure(r.stats_ratio);
  j["encode_us"] = figure(r.encode_us);
  j["decode_us"] = figure(r.decode_us);
  j["comm_us"] = figure(r.comm_us);
  j["lib_total_us"] = figure(r.total_us);
  j["rel_err"] = figure(r.rel_err);
  // An infinite bound means "finite results only" (sparsifiers, low rank).
  j["err_bound"] = !run.check ? Json(nullptr) : std::isfinite(r.bound) ? figure(r.bound) : Json("finite");
  j["ranks_agree"] = run.check ? Json(r.agree) : Json(nullptr);
  j["ok"] = r.ok;
  j["baseline_us"] = figure(r.base.median * 1e6);
  j["baseline_us_min"] = figure(r.base.min * 1e6);
  j["baseline_us_mean"] = figure(r.base.mean * 1e6);
  j["baseline_us_max"] = figure(r.base.max * 1e6);
  j["speedup"] = figure(r.t.median > 0 ? r.base.median / r.t.median : NAN);
  j["speedup_min"] = figure(r.t.min > 0 ? r.base.min / r.t.min : NAN);
  return j;
}

}  // namespace

bool write_json_rows(const std::string& path, const std::vector<Row>& rows, const RunInfo& run) {
  std::ofstream f(path);
  if (!f) return false;
  // One row per line, so the files diff and grep well; a label or spec that is
  // not valid UTF-8 is written with U+FFFD rather than failing the run.
  f << "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    f << "  " << row_json(rows[i], run).dump(-1, ' ', false, Json::error_handler_t::replace)
      << (i + 1 < rows.size() ? ",\n" : "\n");
  }
  f << "]\n";
  f.close();
  return !f.fail();
}

}  // namespace perf
