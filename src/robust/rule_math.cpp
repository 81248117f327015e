#include "src/robust/rule_math.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

namespace gw {

double squared_distance(const float* a, const float* b, size_t count) {
  double s = 0;
  for (size_t i = 0; i < count; ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  // NaN (a NaN value, or Inf - Inf) and Inf both mean "not a usable row".
  return std::isfinite(s) ? s : std::numeric_limits<double>::infinity();
}

bool row_is_finite(const float* row, size_t count) {
  float acc = 0;  // x * 0 is NaN exactly when x is NaN or Inf
  for (size_t i = 0; i < count; ++i) acc += row[i] * 0.0f;
  return acc == 0.0f;
}

void pairwise_squared_distances(const PeerRows& peers, size_t count, std::vector<double>& d) {
  const size_t m = static_cast<size_t>(peers.m);
  d.assign(m * m, 0.0);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = i + 1; j < m; ++j) d[i * m + j] = d[j * m + i] = squared_distance(peers.rows[i], peers.rows[j], count);
}

void mean_of_rows(const float* const* rows, const int* picked, int k, size_t count, float* out) {
  if (k <= 0) {
    std::fill(out, out + count, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  const float inv = 1.0f / static_cast<float>(k);
  const float* first = rows[picked[0]];
  for (size_t i = 0; i < count; ++i) {
    float s = first[i];
    for (int r = 1; r < k; ++r) s += rows[picked[r]][i];
    out[i] = s * inv;
  }
}

std::vector<int> order_by(const std::vector<double>& key) {
  std::vector<int> idx(key.size());
  std::iota(idx.begin(), idx.end(), 0);
  // Keys are finite or +Inf (never NaN), so < is a strict weak order.
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return key[static_cast<size_t>(a)] < key[static_cast<size_t>(b)]; });
  return idx;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace gw
