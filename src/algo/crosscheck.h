// Equivocation detection in a robust call (docs/ROBUST.md "Equivocation"):
// after an allgather exchange, every rank tells every other rank, in one small
// exchange of its own, the hash of each message it received in it. Senders
// whose messages hashed differently at different receivers are the call's
// equivocators (robust/equivocation.h decides), the same on every rank
// whenever every rank's hash row reaches every rank unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/algo/host_bytes.h"
#include "src/wire/header.h"
#include "transports/transport.h"

namespace gw {

// The buffers of the hash exchange, reused call after call.
struct CrosscheckBuffers {
  HostBytes send;
  std::vector<HostBytes> recv;
  std::unique_ptr<Batch> batch;
  std::vector<uint64_t> matrix;  // n x n: row r = what rank r reports
};

// The header's exchange field of exchange i's hash rows (apart from every data exchange).
constexpr uint32_t kCrosscheckExchange = 0x40000000u;

struct CrosscheckOutcome {
  std::vector<int> equivocators;  // ascending; empty when nobody equivocated or a row was bad
  std::vector<Error> bad_rows;    // a peer whose row did not arrive intact (named): the call fails
  uint64_t sent = 0, received = 0;  // bytes on the wire
};

// Sends `row` (n hashes: row[s] = what this rank received from s) to every
// peer, receives theirs, validates each like any message (sender, call,
// exchange, length, checksum) and decides. Throws GW_ERR_TIMEOUT from the
// transport when a peer's row does not come within timeout_s.
CrosscheckOutcome crosscheck(Transport& t, CrosscheckBuffers& buf, const PlanFingerprint& plan, uint64_t seq,
                             uint32_t exchange, const std::vector<uint64_t>& row, bool checksum, double timeout_s,
                             const std::string& what);

}  // namespace gw
