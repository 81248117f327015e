// The rules that look at one coordinate at a time: mean, median, trimmed mean.
//
// Order: NaN sorts above +Inf (every NaN alike), and -0 below +0, so that a
// column without NaN has one sorted order, bit for bit; the median and the
// trimmed mean are functions of the column alone, whatever the path below.
//
// Two paths give the same bits. The scalar one gathers each coordinate's
// column and runs std::nth_element / std::sort. The block path (m <= 64 rows,
// a block of coordinates without NaN) copies the block of every row into a
// scratch of order keys (an int32 per float whose signed order is the order
// above), runs a sorting network (Batcher's odd-even merge sort for m, pruned
// to the outputs the rule reads) as min/max over whole rows of the block, so
// the compiler vectorizes it across coordinates, and reads the middle (median)
// or sums the kept values in sorted order (trimmed mean). A block holding a
// NaN takes the scalar path: which NaN a NaN result carries is the scalar
// path's business.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "src/common/error.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"

namespace gw {
namespace {

// Clones for AVX2 and the baseline, picked once by the loader: integer
// min/max and float additions in one fixed order, so the same bits either way
// (no FMA target: lower * 0.5f + upper * 0.5f stays two roundings).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_RULE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GW_RULE_CLONES
#endif

constexpr int kMaxNetworkRows = 64;    // beyond: the scalar path
constexpr size_t kBlockBytes = 64 << 10;  // scratch per block (m rows of keys)

// An int32 whose signed order is the float order with -0 < +0 (NaN aside):
// negative floats get their magnitude bits flipped. Its own inverse.
inline int32_t order_key(int32_t bits) { return bits ^ static_cast<int32_t>(static_cast<uint32_t>(bits >> 31) >> 1); }
inline float key_float(int32_t key) {
  const int32_t bits = order_key(key);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline int32_t float_key(float f) {
  int32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return order_key(bits);
}

// NaN last, -0 before +0: a strict weak order (std::nth_element with a plain
// < may read out of bounds on NaN) in which only NaNs are equivalent.
bool nan_last_less(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return !std::isnan(a) && std::isnan(b);
  return float_key(a) < float_key(b);
}

// ---- sorting networks ------------------------------------------------------

struct Comparator {
  uint8_t lo, hi;  // after it, wire lo holds the smaller value (lo < hi)
};

// Batcher's odd-even merge sort for the next power of two, without the
// comparators that touch a wire >= m (those wires hold +Inf padding that never moves).
std::vector<Comparator> batcher_network(int m) {
  std::vector<Comparator> net;
  int n = 1;
  while (n < m) n <<= 1;
  for (int p = 1; p < n; p <<= 1)
    for (int k = p; k >= 1; k >>= 1)
      for (int j = k % p; j + k < n; j += 2 * k)
        for (int i = 0; i < std::min(k, n - j - k); ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < m)
            net.push_back({static_cast<uint8_t>(i + j), static_cast<uint8_t>(i + j + k)});
  return net;
}

// The comparators of `net` that some output in [first, last) depends on.
std::vector<Comparator> prune_network(const std::vector<Comparator>& net, int m, int first, int last) {
  std::vector<char> needed(static_cast<size_t>(m), 0);
  for (int w = first; w < last; ++w) needed[static_cast<size_t>(w)] = 1;
  std::vector<Comparator> kept;
  for (size_t c = net.size(); c-- > 0;) {
    if (!needed[net[c].lo] && !needed[net[c].hi]) continue;
    needed[net[c].lo] = needed[net[c].hi] = 1;
    kept.push_back(net[c]);
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

// The full networks for m = 0..kMaxNetworkRows and the median's pruned ones, built once.
struct Networks {
  std::vector<Comparator> full[kMaxNetworkRows + 1];
  std::vector<Comparator> median[kMaxNetworkRows + 1];
  Networks() {
    for (int m = 1; m <= kMaxNetworkRows; ++m) {
      full[m] = batcher_network(m);
      median[m] = prune_network(full[m], m, (m - 1) / 2, m / 2 + 1);
    }
  }
};
const Networks& networks() {
  static const Networks nets;
  return nets;
}

// Coordinates per block for m rows: the scratch stays within kBlockBytes.
size_t block_size(int m) {
  const size_t b = kBlockBytes / sizeof(int32_t) / static_cast<size_t>(m);
  return std::min<size_t>(1024, std::max<size_t>(64, b & ~static_cast<size_t>(15)));
}

// s[r * stride + j] = the key of rows[r][at + j] for j < n; false when a value is NaN.
GW_RULE_CLONES bool load_block(const float* const* rows, int m, size_t at, size_t n, int32_t* s, size_t stride) {
  uint32_t nan = 0;
  for (int r = 0; r < m; ++r) {
    const float* __restrict src = rows[r] + at;
    int32_t* __restrict dst = s + static_cast<size_t>(r) * stride;
    for (size_t j = 0; j < n; ++j) {
      int32_t bits;
      std::memcpy(&bits, src + j, sizeof bits);
      nan |= static_cast<uint32_t>((bits & 0x7fffffff) > 0x7f800000);
      dst[j] = order_key(bits);
    }
  }
  return nan == 0;
}

GW_RULE_CLONES void run_network(const Comparator* net, size_t k, int32_t* s, size_t stride, size_t n) {
  for (size_t c = 0; c < k; ++c) {
    int32_t* __restrict a = s + net[c].lo * stride;
    int32_t* __restrict b = s + net[c].hi * stride;
    for (size_t j = 0; j < n; ++j) {
      const int32_t x = a[j], y = b[j];
      a[j] = std::min(x, y);
      b[j] = std::max(x, y);
    }
  }
}

GW_RULE_CLONES void read_median(const int32_t* s, size_t stride, int m, size_t n, float* __restrict out) {
  const int32_t* upper = s + static_cast<size_t>(m / 2) * stride;
  if (m % 2) {
    for (size_t j = 0; j < n; ++j) out[j] = key_float(upper[j]);
  } else {
    const int32_t* lower = upper - stride;
    for (size_t j = 0; j < n; ++j) out[j] = key_float(lower[j]) * 0.5f + key_float(upper[j]) * 0.5f;
  }
}

// out[j] = (sorted[b] + sorted[b + 1] + ... + sorted[b + kept - 1]) * inv, summed in that order.
GW_RULE_CLONES void read_trimmed(const int32_t* s, size_t stride, int b, int kept, float inv, size_t n,
                                 float* __restrict out) {
  const int32_t* first = s + static_cast<size_t>(b) * stride;
  for (size_t j = 0; j < n; ++j) out[j] = key_float(first[j]);
  for (int k = 1; k < kept; ++k) {
    const int32_t* row = first + static_cast<size_t>(k) * stride;
    for (size_t j = 0; j < n; ++j) out[j] += key_float(row[j]);
  }
  for (size_t j = 0; j < n; ++j) out[j] *= inv;
}

// ---- the scalar path -------------------------------------------------------

void median_scalar(const PeerRows& p, size_t begin, size_t end, float* out) {
  thread_local std::vector<float> column;  // grow-only: no allocation per call
  const int n = p.m;
  column.resize(static_cast<size_t>(n));
  const size_t mid = static_cast<size_t>(n) / 2;
  for (size_t i = begin; i < end; ++i) {
    for (int r = 0; r < n; ++r) column[static_cast<size_t>(r)] = p.rows[r][i];
    std::nth_element(column.begin(), column.begin() + mid, column.end(), nan_last_less);
    float upper = column[mid];
    if (n % 2) {
      out[i] = upper;
    } else {  // the lower middle is the largest of the elements before mid
      float lower = *std::max_element(column.begin(), column.begin() + mid, nan_last_less);
      out[i] = lower * 0.5f + upper * 0.5f;  // no overflow near FLT_MAX
    }
  }
}

void trimmed_scalar(const PeerRows& p, int b, size_t begin, size_t end, float* out) {
  thread_local std::vector<float> column;
  column.resize(static_cast<size_t>(p.m));
  const int kept = p.m - 2 * b;
  const float inv = 1.0f / static_cast<float>(kept);
  for (size_t i = begin; i < end; ++i) {
    for (int r = 0; r < p.m; ++r) column[static_cast<size_t>(r)] = p.rows[r][i];
    std::sort(column.begin(), column.end(), nan_last_less);  // sums in sorted order: the same on every rank
    float s = column[static_cast<size_t>(b)];
    for (int k = b + 1; k < b + kept; ++k) s += column[static_cast<size_t>(k)];
    out[i] = s * inv;
  }
}

// Runs `net` over blocks of coordinates and `read` on each sorted block;
// `scalar(begin, end)` does a block that holds NaN (and everything when m is large).
template <typename Read, typename Scalar>
void blocked(const PeerRows& p, size_t count, const std::vector<Comparator>& net, float* out, Read read,
             Scalar scalar) {
  if (p.m > kMaxNetworkRows) return scalar(size_t{0}, count);
  const size_t block = block_size(p.m);
  thread_local std::vector<int32_t> scratch;  // grow-only
  if (scratch.size() < block * static_cast<size_t>(p.m)) scratch.resize(block * static_cast<size_t>(p.m));
  int32_t* s = scratch.data();
  for (size_t at = 0; at < count; at += block) {
    const size_t n = std::min(block, count - at);
    if (!load_block(p.rows, p.m, at, n, s, block)) {
      scalar(at, at + n);
      continue;
    }
    run_network(net.data(), net.size(), s, block, n);
    read(s, block, n, out + at);
  }
}

// The reference rule: the rank-order sum divided by m, which is what the
// running sum computes (bit for bit when decode_add is out + decode).
class MeanRule final : public NamedRule {
 public:
  using NamedRule::NamedRule;
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    std::vector<int> all(static_cast<size_t>(p.m));
    for (int r = 0; r < p.m; ++r) all[static_cast<size_t>(r)] = r;
    mean_of_rows(p.rows, all.data(), p.m, count, out);
  }
};

class MedianRule final : public NamedRule {
 public:
  using NamedRule::NamedRule;
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    if (p.m <= 0) return std::fill(out, out + count, std::numeric_limits<float>::quiet_NaN());
    const int m = p.m;
    const std::vector<Comparator>& net = networks().median[std::min(m, kMaxNetworkRows)];
    blocked(
        p, count, net, out,
        [m](const int32_t* s, size_t stride, size_t n, float* o) { read_median(s, stride, m, n, o); },
        [&](size_t begin, size_t end) { median_scalar(p, begin, end, out); });
  }
};

class TrimmedMeanRule final : public NamedRule {
 public:
  TrimmedMeanRule(const std::string& name, int b) : NamedRule(name), b_(b) {}
  bool coordinatewise() const override { return true; }
  void combine(const PeerRows& p, size_t count, float* out, RuleState&, std::vector<int>&) const override {
    GW_REQUIRE(p.m > 2 * b_, GW_ERR_INVALID_ARGUMENT, "robust=", name(), " drops ", 2 * b_,
               " values per coordinate and needs more than that many ranks; this call has ", p.m);
    if (count == 0) return;
    const int m = p.m, b = b_, kept = p.m - 2 * b_;
    const float inv = 1.0f / static_cast<float>(kept);
    thread_local std::vector<Comparator> net;  // pruned to the kept wires: O(comparators) per call
    if (m <= kMaxNetworkRows) net = prune_network(networks().full[m], m, b, m - b);
    blocked(
        p, count, net, out,
        [=](const int32_t* s, size_t stride, size_t n, float* o) { read_trimmed(s, stride, b, kept, inv, n, o); },
        [&](size_t begin, size_t end) { trimmed_scalar(p, b, begin, end, out); });
  }

 private:
  int b_;
};

}  // namespace

std::unique_ptr<PeerRule> make_mean_rule(const std::string& name) { return std::unique_ptr<PeerRule>(new MeanRule(name)); }
std::unique_ptr<PeerRule> make_median_rule(const std::string& name) {
  return std::unique_ptr<PeerRule>(new MedianRule(name));
}
std::unique_ptr<PeerRule> make_trimmed_mean_rule(const std::string& name, int b) {
  return std::unique_ptr<PeerRule>(new TrimmedMeanRule(name, b));
}

}  // namespace gw
