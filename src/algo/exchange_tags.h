// MPI-style tags of a call's exchanges. Exchanges alternate between two tags,
// so a receive of exchange i+1 can never match a message of exchange i (every
// rank runs exchanges in the same order). Exchange 0 carries the plan check of
// every algorithm — compressed or plain — so ranks that chose different
// algorithms for one call still meet there and see the mismatch.
#pragma once

#include <cstddef>

namespace gw {

inline int exchange_tag(size_t exchange) { return 0x6770 + static_cast<int>(exchange & 1); }

}  // namespace gw
