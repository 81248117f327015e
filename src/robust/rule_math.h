// Arithmetic shared by the robust rules, each in one fixed order so that
// every rank computes the same bits: distances summed in double over the
// coordinates in order, means summed in float over the rows in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/robust/peer_rule.h"

namespace gw {

// Squared Euclidean distance in double; +Inf when either row holds NaN/Inf
// (a row that is not finite counts as infinitely far from everything).
double squared_distance(const float* a, const float* b, size_t count);

// True when every value of the row is finite.
bool row_is_finite(const float* row, size_t count);

// d[i * m + j] = squared_distance(row i, row j) for the m rows (0 on the diagonal).
void pairwise_squared_distances(const PeerRows& peers, size_t count, std::vector<double>& d);

// out = the mean of the rows picked[0..k) in that order (float sums, then one
// multiply by 1/k, as the running sum does); NaN when k == 0.
void mean_of_rows(const float* const* rows, const int* picked, int k, size_t count, float* out);

// Indices 0..m-1 ordered by key ascending, ties by index: the deterministic
// "k smallest" every distance rule uses.
std::vector<int> order_by(const std::vector<double>& key);

// "0.1" for 0.1: doubles in canonical rule specs (the plan fingerprint hashes them).
std::string format_number(double v);

}  // namespace gw
