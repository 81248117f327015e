// Communicator configuration. Each key is declared once (name, default, help)
// in config.cpp; a value comes from the config string, else from GW_<KEY> in
// the environment, else the default. Unknown keys and bad values are
// GW_ERR_INVALID_ARGUMENT naming the key (env values too: a typo must not pass
// silently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gw {

// kPlain: the transport's uncompressed collective (small calls, see fallback_bytes).
enum class Algorithm : uint8_t { kAuto = 0, kAllgather = 1, kSra = 2, kPlain = 3 };
enum class NonfinitePolicy : uint8_t { kError = 0, kPropagate = 1 };

// chunk_bytes=auto: host data pipelines in rounds of 4 MiB; device data in
// rounds of 64 MiB, where each round's fixed cost is larger.
constexpr size_t kHostChunkBytes = size_t(4) << 20;
constexpr size_t kDeviceChunkBytes = size_t(64) << 20;

struct Config {
  std::string compressor;       // default spec for layers without an override
  Algorithm algorithm = Algorithm::kAuto;
  size_t chunk_bytes = 0;       // input bytes per pipeline round; 0 = auto (below)
  size_t min_compress_bytes = 0;  // layers smaller than this go uncompressed ("none")
  size_t fallback_bytes = 0;    // calls of at most this many input bytes use the plain collective
  bool plain_check_every = false;  // plan check before every plain call, not only when a layer's plan changes
  double timeout_s = 0;         // 0 = wait forever
  uint64_t seed = 0;
  bool checksum = true;
  NonfinitePolicy nonfinite = NonfinitePolicy::kError;
  std::string robust = "none";  // how allreduce combines the peers' decoded vectors (robust/peer_rule.h)
  std::string attack = "none";  // tests and benchmarks only: what attacking ranks send (robust/attack.h)

  std::string describe() const;  // "compressor=...;algorithm=...;..." for logs and gw-perf
};

Config parse_config(const char* text);

// Help text of every key: "key (GW_KEY, default D): what it does".
std::string config_help();

const char* algorithm_name(Algorithm a);

// The pieces of a config string, shared with other configs (src/gossip/):
// "k=v;k2=v2" -> {{k, v}, {k2, v2}} (trimmed; empty items skipped; an item
// without '=' is GW_ERR_INVALID_ARGUMENT).
std::vector<std::pair<std::string, std::string>> split_config(const char* text);
// GW_ERR_INVALID_ARGUMENT: "config key 'key'='value' (from origin) is not want".
[[noreturn]] void fail_config_value(const std::string& key, const std::string& value, const std::string& origin,
                                    const char* want);
// A non-negative integer (decimal, 0x hex, with an optional K/M/G suffix).
uint64_t parse_config_u64(const std::string& key, const std::string& v, const std::string& origin);
// A finite number of seconds >= 0 (an empty value is an error, not 0).
double parse_config_seconds(const std::string& key, const std::string& v, const std::string& origin);

}  // namespace gw
