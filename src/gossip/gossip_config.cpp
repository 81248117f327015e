#include "src/gossip/gossip_config.h"

#include <sstream>
#include <vector>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/config/config.h"
#include "src/config/config_params.h"

namespace gw {
namespace {

using GossipParam = ConfigParam<GossipConfig>;

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
      {"timeout", "30", "seconds to wait for a partner's copy before skipping it",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.timeout_s = parse_config_seconds("timeout", v, o);
         if (!(c.timeout_s > 0)) fail_config_value("timeout", v, o, "a number of seconds > 0");
       }},
      {"retry", "10", "seconds a skipped partner stays out of the draw",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.retry_s = parse_config_seconds("retry", v, o);
       }},
      {"close_timeout", "300", "seconds gw_gossip_close waits for every peer",
       [](GossipConfig& c, const std::string& v, const std::string& o) {
         c.close_timeout_s = parse_config_seconds("close_timeout", v, o);
         if (!(c.close_timeout_s > 0)) fail_config_value("close_timeout", v, o, "a number of seconds > 0");
       }},
      {"seed", "0x6772616477697265", "seed of the partner schedule",
       [](GossipConfig& c, const std::string& v, const std::string& o) { c.seed = parse_config_u64("seed", v, o); }},
      {"codec", "none", "none (fp32) or lattice:bits=B, B in 4..8", set_codec},
  };
  return p;
}

}  // namespace

GossipConfig parse_gossip_config(const char* text) {
  return resolve_config(text, gossip_params(), "GW_GOSSIP_", "gossip config");
}

std::string GossipConfig::describe() const {
  std::ostringstream os;
  os << "timeout=" << timeout_s << ";retry=" << retry_s << ";close_timeout=" << close_timeout_s << ";seed=" << seed << ";codec=" << codec;
  return os.str();
}

}  // namespace gw
