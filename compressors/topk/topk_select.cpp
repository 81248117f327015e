#include "compressors/topk/topk_select.h"

#include <algorithm>
#include <functional>

#include "src/common/cpu_features.h"
#include "src/common/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gw {
namespace topk {
namespace {

constexpr int kBinShift = 20;  // 31-bit keys: the top 11 bits pick one of 2048 bins

struct Scratch {  // grow-only, one per thread
  std::vector<uint32_t> keys;
  std::vector<uint64_t> pairs, trim;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The k-th largest key of all n, and how many keys are strictly larger.
uint32_t kth_key(const float* v, size_t n, size_t k, size_t* greater, Scratch& s) {
  uint32_t hist[2048] = {0};
  for (size_t i = 0; i < n; ++i) hist[magnitude_key(v[i]) >> kBinShift]++;
  size_t above = 0;
  int bin = 2047;
  for (; bin > 0; --bin) {
    if (above + hist[bin] >= k) break;
    above += hist[bin];
  }
  s.keys.clear();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t kk = magnitude_key(v[i]);
    if (static_cast<int>(kk >> kBinShift) == bin) s.keys.push_back(kk);
  }
  const size_t need = k - above;  // 1 <= need <= keys in the bin
  std::nth_element(s.keys.begin(), s.keys.begin() + (need - 1), s.keys.end(), std::greater<uint32_t>());
  const uint32_t t = s.keys[need - 1];
  size_t gt = above;
  for (uint32_t kk : s.keys) gt += kk > t;
  *greater = gt;
  return t;
}

void select_exact(const float* v, size_t n, size_t k, uint32_t* idx, Scratch& s) {
  size_t greater = 0;
  const uint32_t t = kth_key(v, n, k, &greater, s);
  size_t ties = k - greater, j = 0;
  for (size_t i = 0; i < n && j < k; ++i) {
    const uint32_t kk = magnitude_key(v[i]);
    if (kk > t || (kk == t && ties > 0)) {
      ties -= kk == t;
      idx[j++] = static_cast<uint32_t>(i);
    }
  }
}

// A survivor as one sortable word: larger key first, then the lower index (~i).
inline uint64_t pair_of(uint32_t key, size_t i) {
  return static_cast<uint64_t>(key) << 32 | (0xffffffffu - static_cast<uint32_t>(i));
}

// Appends pair_of(key, i) for every key >= t in [from, to); false past cap.
bool scan_scalar(const float* v, size_t from, size_t to, uint32_t t, size_t cap, std::vector<uint64_t>& out) {
  for (size_t i = from; i < to; ++i) {
    const uint32_t kk = magnitude_key(v[i]);
    if (kk < t) continue;
    if (out.size() == cap) return false;
    out.push_back(pair_of(kk, i));
  }
  return true;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) bool scan_avx2(const float* v, size_t n, uint32_t t, size_t cap,
                                               std::vector<uint64_t>& out) {
  // Keys are below 2^31, so signed compares order them; key >= t <=> key > t - 1.
  const __m256i mag = _mm256_set1_epi32(0x7fffffff), lim = _mm256_set1_epi32(static_cast<int>(t) - 1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i key = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)), mag);
    unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(key, lim))));
    while (mask) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      if (out.size() == cap) return false;
      out.push_back(pair_of(magnitude_key(v[at]), at));
    }
  }
  return scan_scalar(v, i, n, t, cap, out);
}
#endif

// False (nothing written) when fewer than k values pass the sampled threshold
// or too many do (many equal magnitudes): the caller runs the exact path.
bool select_sampled(const float* v, size_t n, size_t k, uint64_t key, uint32_t* idx, Scratch& s,
                    SelectStats* stats) {
  const size_t m = std::min(n, std::max<size_t>(n / 100, 1024));
  s.keys.resize(m);
  for (size_t j = 0; j < m; ++j) {
    const uint64_t pos = (static_cast<uint64_t>(rng_u32(key, static_cast<uint32_t>(j))) * n) >> 32;
    s.keys[j] = magnitude_key(v[pos]);
  }
  // Aim a little above k (10%) so that a sample's noise rarely leaves fewer than k.
  const double want = 1.1 * static_cast<double>(k) * static_cast<double>(m) / static_cast<double>(n);
  const size_t target = std::min(m, std::max<size_t>(1, static_cast<size_t>(want + 0.5)));
  std::nth_element(s.keys.begin(), s.keys.begin() + (target - 1), s.keys.end(), std::greater<uint32_t>());
  const uint32_t t = std::max<uint32_t>(s.keys[target - 1], 1);  // t - 1 stays a valid key
  const size_t cap = 4 * k + 1024;
  s.pairs.clear();
  bool fits;
#if defined(__x86_64__)
  if (cpu_isa() != CpuIsa::SCALAR) fits = scan_avx2(v, n, t, cap, s.pairs);
  else
#endif
    fits = scan_scalar(v, 0, n, t, cap, s.pairs);
  if (stats) stats->survivors = s.pairs.size();
  if (!fits || s.pairs.size() < k) return false;
  // The k-th largest survivor, then the survivors at or above it, still in index order.
  s.trim.assign(s.pairs.begin(), s.pairs.end());
  std::nth_element(s.trim.begin(), s.trim.begin() + (k - 1), s.trim.end(), std::greater<uint64_t>());
  const uint64_t kth = s.trim[k - 1];
  size_t j = 0;
  for (uint64_t p : s.pairs)
    if (p >= kth) idx[j++] = 0xffffffffu - static_cast<uint32_t>(p);
  return true;
}

}  // namespace

void select(const float* v, size_t n, size_t k, Select mode, uint64_t key, uint32_t* idx, SelectStats* stats) {
  if (k == 0) return;
  if (k >= n) {
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(i);
    return;
  }
  Scratch& s = scratch();
  if (mode == Select::kSample && select_sampled(v, n, k, key, idx, s, stats)) return;
  if (stats && mode == Select::kSample) stats->fell_back = true;
  select_exact(v, n, k, idx, s);
}

}  // namespace topk
}  // namespace gw
