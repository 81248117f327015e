// Equivocation detection, the decision half (docs/ROBUST.md "Equivocation"):
// after a robust call's allgather every rank hashes the payload it received
// from each sender, the ranks share those rows, and every rank decides from
// the resulting n x n matrix which senders to leave out of that call's rule.
// The exchange of the rows is not wired into calls yet; this is the pure rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gw {

// 64-bit hash of one received message's bytes (what a receiver reports for a sender).
uint64_t payload_hash(const void* bytes, size_t n);

// matrix[r * n + s]: the hash rank r reports for what it received from rank s
// (r == s: what s says it sent, which is never trusted). Returns, ascending,
// the senders whose column is not unanimous over the reports of the OTHER
// ranks: they sent different bytes to different receivers (or a reporter lied
// about them; see the guarantees in docs/ROBUST.md). With n <= 2 a column has
// one report and nobody can be caught.
std::vector<int> equivocating_senders(const uint64_t* matrix, int n);

}  // namespace gw
