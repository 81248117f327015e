// The wire kinds of the attack harness (config attack=malformed|truncated|
// oversized|garbage|equivocate): FOR TESTS AND BENCHMARKS ONLY. An attacking rank's
// transport is wrapped so that every data message it sends, after gradwire
// built and sealed it, is rewritten into what a hostile peer could send (the
// messages of allreduce calls, as the input kinds attack allreduce inputs):
//
//   malformed   a header whose payload length lies (by 2^40) under a valid
//               checksum: a forged header, not a damaged one
//   truncated   the message 7 bytes short
//   oversized   1 MiB longer than the receivers' buffers
//   garbage     the payload bytes replaced by a keyed stream, sealed again
//               with a valid checksum: a well-formed message whose values are
//               whatever they decode to
//   equivocate  the garbage message to the second half of its peers (in rank
//               order), the message as built to the first half: different
//               ranks receive different, individually valid messages
//
// Abort messages pass unchanged (they carry no payload), and so do the hash
// rows of equivocation detection (algo/crosscheck.h): this rank lies as a
// sender, not as a reporter. The transport's other traffic (abandon notices,
// peer checks) is untouched.
#pragma once

#include <memory>

#include "transports/transport.h"

namespace gw {

enum class WireAttack { kMalformed, kTruncated, kOversized, kGarbage, kEquivocate };

// Wraps `inner` (which keeps doing the real transport work) so that the
// messages it sends are rewritten as `kind` says; `key` seeds the garbage.
std::unique_ptr<Transport> make_wire_attack_transport(std::unique_ptr<Transport> inner, WireAttack kind, uint64_t key);

}  // namespace gw
