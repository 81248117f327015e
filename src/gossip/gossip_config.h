// Configuration of a gossip group (include/gradwire/gossip.h lists the keys).
// Parsed like a communicator's config (src/config/): the string wins over
// GW_GOSSIP_<KEY> in the environment, unknown keys and bad values are
// GW_ERR_INVALID_ARGUMENT naming the key.
#pragma once

#include <cstdint>
#include <string>

namespace gw {

struct GossipConfig {
  double timeout_s = 30;   // wait for a partner's copy (and for close) before giving up
  double retry_s = 10;     // a skipped partner is left out of the choice this long
  double close_timeout_s = 300;  // close() waits this long for every peer to close too
  uint64_t seed = 0;       // partner schedule
  std::string codec = "none";  // canonical: "none" or "lattice:bits=B"
  int lattice_bits = 0;    // 0 = codec none

  // Canonical "timeout=..;retry=..;seed=..;codec=..": all ranks must agree on it.
  std::string describe() const;
};

GossipConfig parse_gossip_config(const char* text);

}  // namespace gw
