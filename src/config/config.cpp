#include "src/config/config.h"
#include "src/config/config_params.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/robust/attack.h"
#include "src/robust/peer_rule.h"
#include "src/spec/registry.h"

namespace gw {

[[noreturn]] void fail_config_value(const std::string& key, const std::string& value, const std::string& origin,
                            const char* want) {
  fail(GW_ERR_INVALID_ARGUMENT, "config key '", key, "'='", clip_text(value), "' (from ", origin, ") is not ", want);
}

namespace {

using Param = ConfigParam<Config>;

const std::vector<Param>& params() {
  static const std::vector<Param> p = {
      {"compressor", "maxmin:bits=8,bucket=512", "default compressor spec for every layer",
       [](Config& c, const std::string& v, const std::string& origin) {
         try {
           c.compressor = make_scheme(v)->spec;
         } catch (const Error& e) {
           fail(GW_ERR_INVALID_ARGUMENT, "config key 'compressor' (from ", origin, "): ", e.what());
         }
       }},
      {"algorithm", "auto", "auto|allgather|sra: compressed collective algorithm",
       [](Config& c, const std::string& v, const std::string& origin) {
         if (v == "auto") c.algorithm = Algorithm::kAuto;
         else if (v == "allgather") c.algorithm = Algorithm::kAllgather;
         else if (v == "sra") c.algorithm = Algorithm::kSra;
         else fail_config_value("algorithm", v, origin, "auto|allgather|sra");
       }},
      {"chunk_bytes", "auto",
       "input bytes per pipelined round (encode of round i+1 overlaps transfer of round i); auto = 4M for "
       "host buffers, 64M for device buffers",
       [](Config& c, const std::string& v, const std::string& origin) {
         if (v == "auto") {
           c.chunk_bytes = 0;
           return;
         }
         c.chunk_bytes = parse_config_u64("chunk_bytes", v, origin);
         if (c.chunk_bytes < 4096 || c.chunk_bytes > (1ull << 30))
           fail_config_value("chunk_bytes", v, origin, "within [4K, 1G]");
       }},
      {"min_compress_bytes", "0", "layers with fewer input bytes are sent uncompressed (spec none)",
       [](Config& c, const std::string& v, const std::string& origin) {
         c.min_compress_bytes = parse_config_u64("min_compress_bytes", v, origin);
       }},
      {"fallback_bytes", "64K",
       "calls of at most this many input bytes skip compression and use the transport's plain collective "
       "(MPI_Allreduce, ncclAllReduce): latency-bound sizes gain nothing from fewer bytes. 0 = always compress",
       [](Config& c, const std::string& v, const std::string& origin) {
         c.fallback_bytes = parse_config_u64("fallback_bytes", v, origin);
       }},
      {"plan_check", "changes",
       "changes|every: before a plain (fallback_bytes) call, ranks exchange plan headers on a layer's first "
       "call and whenever its plan changes, or before every call. 'changes' adds no round trip in steady "
       "state; a rank whose plan changes alone is then a timeout (GW_ERR_TIMEOUT), not GW_ERR_MISMATCH",
       [](Config& c, const std::string& v, const std::string& origin) {
         if (v == "changes") c.plain_check_every = false;
         else if (v == "every") c.plain_check_every = true;
         else fail_config_value("plan_check", v, origin, "changes|every");
       }},
      {"timeout", "300", "seconds to wait for a peer before GW_ERR_TIMEOUT (0 = forever)",
       [](Config& c, const std::string& v, const std::string& origin) {
         c.timeout_s = parse_config_seconds("timeout", v, origin);
       }},
      {"seed", "0x6772616477697265", "seed of the counter-based generator (stochastic rounding)",
       [](Config& c, const std::string& v, const std::string& origin) { c.seed = parse_config_u64("seed", v, origin); }},
      {"checksum", "1", "1|0: CRC32C over every message",
       [](Config& c, const std::string& v, const std::string& origin) {
         if (v == "1") c.checksum = true;
         else if (v == "0") c.checksum = false;
         else fail_config_value("checksum", v, origin, "0 or 1");
       }},
      {"nonfinite", "error",
       "error|propagate: NaN/Inf in any rank's input makes every rank return GW_ERR_NONFINITE, or flows into "
       "the result (a compressed bucket holding one decodes to NaN)",
       [](Config& c, const std::string& v, const std::string& origin) {
         if (v == "error") c.nonfinite = NonfinitePolicy::kError;
         else if (v == "propagate") c.nonfinite = NonfinitePolicy::kPropagate;
         else fail_config_value("nonfinite", v, origin, "error|propagate");
       }},
      {"robust", "none",
       "RULE[:key=value,...]: how an allreduce combines the ranks' decoded vectors: none = the running sum "
       "(fastest); mean, median, trimmed:b, krum:f,m, geomed:nu,iters, cc:tau,iters, safeguard:long,short,ratio, "
       "each with bucket=s but safeguard = every peer's vector is kept and the rule applied (allgather form, "
       "host memory, MPI transport; docs/ROBUST.md)",
       [](Config& c, const std::string& v, const std::string& origin) {
         try {
           make_peer_rule(v);  // the rules' one list of names and keys
         } catch (const Error& e) {
           fail(GW_ERR_INVALID_ARGUMENT, "config key 'robust'='", clip_text(v), "' (from ", origin, "): ", e.what(),
                " (rules: ", peer_rule_names(), ")");
         }
         c.robust = v;
       }},
      {"attack", "none",
       "FOR TESTS AND BENCHMARKS: KIND:ranks=a|b,... with KIND signflip (scale), gaussian (sigma), alie (z=auto), "
       "ipm (eps=0.1), mimic (target), labelflip (the trainer's): the listed ranks send an attack vector instead "
       "of their input; or malformed, truncated, oversized, garbage, equivocate: they rewrite their sealed messages "
       "(docs/ROBUST.md)",
       [](Config& c, const std::string& v, const std::string& origin) {
         try {
           Attack::make(v, 1 << 20);  // the syntax; the ranks are checked against the communicator at creation
         } catch (const Error& e) {
           fail(GW_ERR_INVALID_ARGUMENT, "config key 'attack'='", clip_text(v), "' (from ", origin, "): ", e.what());
         }
         c.attack = v;
       }},
  };
  return p;
}

}  // namespace

std::string config_env_name(const char* prefix, const char* key) {
  std::string n = prefix;
  for (const char* k = key; *k; ++k) n += static_cast<char>(std::toupper(static_cast<unsigned char>(*k)));
  return n;
}

// Digits (decimal, 0x hex or 0 octal, as strtoull base 0) and an optional
// K/M/G suffix. An empty value, a bare suffix and a value that overflows 64
// bits with its suffix are errors, never a silent 0 or a wrapped number.
uint64_t parse_config_u64(const std::string& key, const std::string& v, const std::string& origin) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])))
    fail_config_value(key, v, origin, "a non-negative integer");
  errno = 0;
  char* end = nullptr;
  unsigned long long x = std::strtoull(v.c_str(), &end, 0);
  if (errno || !end || end == v.c_str()) fail_config_value(key, v, origin, "a non-negative integer within 64 bits");
  std::string suffix(end);
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) fail_config_value(key, v, origin, "an integer (optionally with K/M/G)");
  if (x > (~0ull >> shift)) fail_config_value(key, v, origin, "an integer within 64 bits");
  return x << shift;
}

double parse_config_seconds(const std::string& key, const std::string& v, const std::string& origin) {
  errno = 0;
  char* end = nullptr;
  double t = std::strtod(v.c_str(), &end);
  // An empty value is an error, not 0 (which would mean "wait forever").
  if (errno || !end || end == v.c_str() || *end || !(t >= 0) || !std::isfinite(t))
    fail_config_value(key, v, origin, "a number of seconds >= 0");
  return t;
}

std::string config_trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

std::vector<std::pair<std::string, std::string>> split_config(const char* text) {
  std::vector<std::pair<std::string, std::string>> items;
  std::string s = text ? text : "";
  size_t pos = 0;
  while (pos < s.size()) {
    size_t semi = s.find(';', pos);
    std::string item = config_trim(s.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    pos = semi == std::string::npos ? s.size() : semi + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    GW_REQUIRE(eq != std::string::npos, GW_ERR_INVALID_ARGUMENT, "config item '", clip_text(item),
               "' is not key=value (items are separated by ';')");
    items.emplace_back(config_trim(item.substr(0, eq)), config_trim(item.substr(eq + 1)));
  }
  return items;
}

Config parse_config(const char* text) { return resolve_config(text, params(), "GW_", "config"); }

std::string config_help() { return config_keys_help(params(), "GW_"); }

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kAllgather: return "allgather";
    case Algorithm::kSra: return "sra";
    case Algorithm::kPlain: return "plain";
    default: return "auto";
  }
}

std::string Config::describe() const {
  std::ostringstream os;
  os << "compressor=" << compressor << ";algorithm=" << algorithm_name(algorithm) << ";chunk_bytes=" << (chunk_bytes ? std::to_string(chunk_bytes) : std::string("auto"))
     << ";min_compress_bytes=" << min_compress_bytes << ";fallback_bytes=" << fallback_bytes
     << ";plan_check=" << (plain_check_every ? "every" : "changes") << ";timeout=" << timeout_s << ";seed=" << seed
     << ";checksum=" << (checksum ? 1 : 0) << ";nonfinite=" << (nonfinite == NonfinitePolicy::kError ? "error" : "propagate")
     << ";robust=" << robust << (attack == "none" ? "" : ";attack=" + attack);
  return os.str();
}

}  // namespace gw
