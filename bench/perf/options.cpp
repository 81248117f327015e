#include "bench/perf/options.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

#include "bench/cli/command_line.h"
#include "bench/cli/split.h"

namespace po = boost::program_options;

namespace perf {
namespace {

// Options taken as text and turned into their field after parsing.
struct Text {
  std::string sizes = "1K:64M";
  std::string op = "avg";
};

// The options, bound to the fields of o and t; the defaults shown by --help
// are the initial values of those fields.
po::options_description describe(Options& o, Text& t) {
  po::options_description d("options", 100, 50);
  d.add_options()
      ("help,h", po::bool_switch(&o.help), "print this help")
      ("compressor,c", po::value<std::vector<std::string>>()->composing()->value_name("SPEC[;SPEC...]")
           ->default_value({"none"}, "none"),
       "compressor specs (repeatable; ';' separates several)")
      ("sizes,s", po::value(&t.sizes)->value_name("LO:HI[:F] | A,B,...")->default_value(t.sizes),
       "message sizes in bytes (K/M/G = 2^10/2^20/2^30); a range steps x2 (or xF)")
      ("iters,n", po::value(&o.iters)->value_name("K")->default_value(o.iters), "timed iterations per row")
      ("warmup,w", po::value(&o.warmup)->value_name("W")->default_value(o.warmup), "untimed iterations first")
      ("device", po::bool_switch(&o.device),
       "buffers in GPU memory (MPI transport; baseline = copy to host, MPI_Allreduce, copy back, as with a "
       "host-only MPI)")
      ("check", po::bool_switch(&o.check),
       "measure rel_err against the exact fp64 mean and fail above a sanity bound (none 1e-6, fp16 1e-2, "
       "bf16 5e-2, bits=1: 4, bits=2: 1.5, qsgd (l2) and nuq: 1.2 x the square root of their variance bound, "
       "topk/randomk/powersgd: finite only, others 0.5)")
      ("max-err", po::value(&o.max_err)->value_name("X"), "use X as the --check bound for every compressor")
      ("json", po::value(&o.json_path)->value_name("FILE"), "write every row as a JSON array")
      ("algorithm", po::value(&o.algorithm)->value_name("auto|allgather|sra"), "adds algorithm=... to the config")
      ("config", po::value(&o.config)->value_name("\"k=v;...\""), "communicator config string")
      ("transport", po::value(&o.transport)->value_name("mpi|nccl")->default_value(o.transport),
       "nccl: device buffers on one GPU per rank, gradwire's NCCL transport against ncclAllReduce of the "
       "same buffer")
      ("op", po::value(&t.op)->value_name("avg|sum")->default_value(t.op), "reduction for the compressed call")
      ("seed", po::value(&o.seed)->value_name("S")->default_value(o.seed), "input data seed")
      ("rank-noise", po::value(&o.rank_noise)->value_name("X")->default_value(o.rank_noise),
       "each rank's input = scale * (common + X * its own noise): X = 0.7 is gradients of different batches, "
       "a small X inputs that are close to each other (models in gossip averaging: lattice's case)")
      ("matrix", po::bool_switch(&o.matrix),
       "give each layer a matrix shape hint (rows = the largest power of two <= sqrt(count) that divides it, "
       "cols = count / rows: 64M -> 4096 x 4096), as powersgd needs")
      ("label", po::value(&o.label)->value_name("TEXT"), "free text (e.g. the regime) put in the header and JSON");
  return d;
}

// "4096", "4K", "64M", "1G", "1KiB", "16MB" (binary multiples) -> bytes; 0 on error.
uint64_t parse_size(const std::string& text) {
  std::string s = bench::trim(text);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return 0;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0) return 0;
  std::string suffix(end);
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "B") {
    mult = 1;
  } else if (suffix == "K" || suffix == "KB" || suffix == "KIB") {
    mult = 1ull << 10;
  } else if (suffix == "M" || suffix == "MB" || suffix == "MIB") {
    mult = 1ull << 20;
  } else if (suffix == "G" || suffix == "GB" || suffix == "GIB") {
    mult = 1ull << 30;
  } else {
    return 0;
  }
  return static_cast<uint64_t>(v) * mult;
}

[[noreturn]] void bad(const std::string& what) { throw bench::UsageError(what); }

// "LO:HI[:F]" (LO, 2 LO, 4 LO, ... up to HI, or xF) or "A,B,...".
std::vector<uint64_t> parse_sizes(const std::string& v) {
  std::vector<uint64_t> sizes;
  if (v.find(':') != std::string::npos) {
    auto parts = bench::split(v, ':');
    if (parts.size() < 2 || parts.size() > 3) bad("bad --sizes '" + v + "'");
    uint64_t lo = parse_size(parts[0]), hi = parse_size(parts[1]);
    uint64_t f = parts.size() == 3 ? std::strtoull(parts[2].c_str(), nullptr, 10) : 2;
    if (lo == 0 || hi < lo || f < 2) bad("bad --sizes '" + v + "'");
    for (uint64_t s = lo; s <= hi; s *= f) {
      sizes.push_back(s);
      if (s > hi / f) break;
    }
  } else {
    for (auto& p : bench::split(v, ',')) {
      uint64_t s = parse_size(p);
      if (s == 0) bad("bad size '" + p + "' in --sizes");
      sizes.push_back(s);
    }
  }
  for (uint64_t s : sizes) {
    if (s < sizeof(float)) bad("size " + std::to_string(s) + " is smaller than one float");
    if (s / sizeof(float) > static_cast<uint64_t>(INT32_MAX))
      bad("size " + std::to_string(s) + " is too large for one MPI_Allreduce count");
  }
  return sizes;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  Text t;
  po::variables_map vm = bench::parse_command_line(argc, argv, describe(o, t));
  if (o.help) return o;

  for (auto& spec : vm["compressor"].as<std::vector<std::string>>())
    for (auto& s : bench::split(spec, ';')) o.compressors.push_back(s);
  if (o.compressors.empty()) o.compressors.push_back("none");
  o.sizes = parse_sizes(t.sizes);
  if (o.iters < 0 || o.iters > 1000000) bad("bad --iters '" + std::to_string(o.iters) + "'");
  if (o.warmup < 0 || o.warmup > 1000000) bad("bad --warmup '" + std::to_string(o.warmup) + "'");
  if (o.iters < 1) bad("--iters must be at least 1");
  if (vm.count("max-err") && !(o.max_err >= 0)) {
    std::ostringstream v;
    v << o.max_err;
    bad("bad --max-err '" + v.str() + "'");
  }
  if (!o.algorithm.empty() && o.algorithm != "auto" && o.algorithm != "allgather" && o.algorithm != "sra")
    bad("--algorithm must be auto, allgather or sra, not '" + o.algorithm + "'");
  if (o.transport != "mpi" && o.transport != "nccl")
    bad("--transport must be mpi or nccl, not '" + o.transport + "'");
  if (o.transport == "nccl") o.device = true;  // NCCL takes device buffers
  if (t.op == "avg") {
    o.op = GW_AVG;
  } else if (t.op == "sum") {
    o.op = GW_SUM;
  } else {
    bad("--op must be avg or sum, not '" + t.op + "'");
  }
  return o;
}

std::string help_text() {
  Options o;
  Text t;
  std::ostringstream s;
  s << "usage: mpirun -np N gw-perf [options]\n"
    << describe(o, t)
    << "Columns: time = median over iterations of max over ranks (barrier before each);\n"
       "baseline = MPI_Allreduce(MPI_SUM, float) (or ncclAllReduce) of the same buffer, interleaved;\n"
       "speedup = baseline / time; wire = max over ranks of bytes sent per call;\n"
       "ratio = size / wire.\n";
  return s.str();
}

}  // namespace perf
