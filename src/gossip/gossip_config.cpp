#include "src/gossip/gossip_config.h"

#include <cctype>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/config/config.h"

namespace gw {
namespace {

struct GossipParam {
  const char* key;
  const char* dflt;
  std::function<void(GossipConfig&, const std::string&, const std::string&)> set;
};

void set_codec(GossipConfig& c, const std::string& v, const std::string& origin) {
  if (v == "none") {
    c.codec = "none";
    c.lattice_bits = 0;
    return;
  }
  const std::string prefix = "lattice:bits=";
  if (v.compare(0, prefix.size(), prefix) == 0) {
    std::string b = v.substr(prefix.size());
    if (b.size() == 1 && b[0] >= '4' && b[0] <= '8') {
      c.lattice_bits = b[0] - '0';
      c.codec = v;
      return;
    }
  }
  fail_config_value("codec", v, origin, "none or lattice:bits=B with B in 4..8 (fewer bits add more noise than an average removes)");
}

const std::vector<GossipParam>& gossip_params() {
  static const std::vector<GossipParam> p = {
      {"timeout", "30",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.timeout_s = parse_config_seconds("timeout", v, o);
         if (!(c.timeout_s > 0)) fail_config_value("timeout", v, o, "a number of seconds > 0");
       }},
      {"retry", "10",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.retry_s = parse_config_seconds("retry", v, o);
       }},
      {"close_timeout", "300",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.close_timeout_s = parse_config_seconds("close_timeout", v, o);
         if (!(c.close_timeout_s > 0)) fail_config_value("close_timeout", v, o, "a number of seconds > 0");
       }},
      {"seed", "0x6772616477697265",
       [](GossipConfig& c, const std::string& v, const std::string& o) { c.seed = parse_config_u64("seed", v, o); }},
      {"codec", "none", set_codec},
  };
  return p;
}

}  // namespace

GossipConfig parse_gossip_config(const char* text) {
  std::vector<std::pair<const GossipParam*, std::string>> items;
  for (const auto& kv : split_config(text)) {
    const GossipParam* found = nullptr;
    for (const GossipParam& p : gossip_params())
      if (kv.first == p.key) found = &p;
    if (!found)
      fail(GW_ERR_INVALID_ARGUMENT, "unknown gossip config key '", clip_text(kv.first),
           "' (keys: timeout, retry, close_timeout, seed, codec)");
    items.emplace_back(found, kv.second);
  }
  GossipConfig c;
  for (const GossipParam& p : gossip_params()) {
    p.set(c, p.dflt, "default");
    bool in_string = false;
    for (const auto& it : items) in_string |= it.first == &p;
    if (in_string) continue;
    std::string env = "GW_GOSSIP_";
    for (const char* k = p.key; *k; ++k) env += static_cast<char>(std::toupper(static_cast<unsigned char>(*k)));
    const char* v = std::getenv(env.c_str());
    if (v && *v) {
      p.set(c, v, "environment " + env);
      GW_LOG(INFO, "gossip config ", p.key, "=", clip_text(v), " from ", env);
    }
  }
  for (const auto& it : items) it.first->set(c, it.second, "config string");
  return c;
}

std::string GossipConfig::describe() const {
  std::ostringstream os;
  os << "timeout=" << timeout_s << ";retry=" << retry_s << ";close_timeout=" << close_timeout_s << ";seed=" << seed << ";codec=" << codec;
  return os.str();
}

}  // namespace gw
