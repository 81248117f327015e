// A table of config keys, and the resolution every config of gradwire shares
// (the collectives' Config, src/gossip/'s GossipConfig): each key's default,
// then PREFIX<KEY> from the environment where the string leaves the key unset
// (read and validated only then), then the string's items. The string wins.
#pragma once

#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/config/config.h"

namespace gw {

template <class Cfg>
struct ConfigParam {
  const char* key;
  const char* dflt;
  const char* help;
  // value: the text to parse; origin: where it came from, for the error message
  std::function<void(Cfg&, const std::string& value, const std::string& origin)> set;
};

// prefix + key in capitals: ("GW_", "chunk_bytes") -> "GW_CHUNK_BYTES".
std::string config_env_name(const char* prefix, const char* key);
// s without leading and trailing blanks.
std::string config_trim(const std::string& s);

// "  key (ENV, default D): help\n" for every key.
template <class Cfg>
std::string config_keys_help(const std::vector<ConfigParam<Cfg>>& params, const char* env_prefix) {
  std::ostringstream os;
  for (const auto& p : params)
    os << "  " << p.key << " (" << config_env_name(env_prefix, p.key) << ", default " << p.dflt << "): " << p.help
       << "\n";
  return os.str();
}

// what names the config in messages ("config", "gossip config").
template <class Cfg>
Cfg resolve_config(const char* text, const std::vector<ConfigParam<Cfg>>& params, const char* env_prefix,
                   const char* what) {
  std::vector<std::pair<const ConfigParam<Cfg>*, std::string>> items;
  for (const auto& kv : split_config(text)) {
    const ConfigParam<Cfg>* found = nullptr;
    for (const auto& p : params)
      if (kv.first == p.key) found = &p;
    if (!found)
      fail(GW_ERR_INVALID_ARGUMENT, "unknown ", what, " key '", clip_text(kv.first), "'; keys are:\n",
           config_keys_help(params, env_prefix));
    items.emplace_back(found, kv.second);
  }
  Cfg c;
  for (const auto& p : params) {
    p.set(c, p.dflt, "default");
    bool in_string = false;
    for (const auto& it : items) in_string |= it.first == &p;
    if (in_string) continue;
    const std::string env = config_env_name(env_prefix, p.key);
    const char* v = std::getenv(env.c_str());
    if (v && *v) {
      p.set(c, config_trim(v), "environment " + env);
      GW_LOG(INFO, what, " ", p.key, "=", clip_text(v), " from ", env);
    }
  }
  for (const auto& it : items) it.first->set(c, it.second, "config string");
  return c;
}

}  // namespace gw
