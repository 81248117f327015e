// The lattice round scheme (lattice.h): rounds, spacing and re-sends.
//
// Rounds of one call, with b = 1 under eps=auto (round 0: the samples) and
// b = 0 with a fixed spacing; attempt k = 0..kMaxResends:
//   round b + 2k:     codes of the units still pending (all of them at k = 0)
//   round b + 2k + 1: the check: which pending units this rank missed, and
//                     from whom; summed, it tells every rank the same thing.
// Scratch of one call (RoundCall::scratch), as Scratch below lays it out:
//   [y: the layer's values, rotated][spacing per unit][attempt per unit]
//   [this rank's misses per unit][its misses per sender]
// A unit is pending in attempt k when its attempt entry is k. The summed codes
// of attempt 0 stay in that round's buffer; the sums of later attempts are
// copied over their units there; the last check writes the output from it.
#include "compressors/lattice/lattice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "compressors/common/hadamard.h"
#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/spec/registry.h"

namespace gw {
namespace {

using lattice::kUnit;

constexpr uint64_t kSampleStream = 0x73616d706c65ull;  // "sample": where eps=auto looks

size_t units_for(size_t values) { return (values + kUnit - 1) / kUnit; }
size_t unit_len(size_t values, size_t u) { return std::min(kUnit, values - u * kUnit); }
// Each rank sends ranks x samples floats: a few per 256 values, at most kSamples.
size_t samples_for(size_t values) {
  return std::min(values, std::max<size_t>(64, std::min(lattice::kSamples, values / 256)));
}

struct Scratch {
  float *y, *eps, *attempt, *missed, *from;
  size_t values, units;
  Scratch(const RoundCall& c) : values(c.count), units(units_for(c.count)) {
    y = c.scratch;
    eps = y + values;
    attempt = eps + units;
    missed = attempt + units;
    from = missed + units;
  }
  static size_t floats(size_t values, int ranks) { return values + 3 * units_for(values) + ranks; }
  size_t pending(int k) const {
    size_t m = 0;
    for (size_t u = 0; u < units; ++u) m += attempt[u] == static_cast<float>(k);
    return m;
  }
  size_t pending_values(int k) const {
    size_t m = 0;
    for (size_t u = 0; u < units; ++u)
      if (attempt[u] == static_cast<float>(k)) m += unit_len(values, u);
    return m;
  }
};

}  // namespace

LatticeCompressor::LatticeCompressor(int bits, double eps, bool rotate)
    : bits_(bits), eps_(eps), rotate_(rotate), codes_(std::make_shared<LatticeCodes>(bits)),
      exact_(make_compressor("none")) {
  char e[32] = "auto";
  if (eps > 0) std::snprintf(e, sizeof(e), "%.9g", eps);
  spec_ = "lattice:bits=" + std::to_string(bits) + ",eps=" + e + ",rotate=" + (rotate ? "1" : "0");
}

CompressorTraits LatticeCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.whole_layer = true;
  return t;
}

RoundLayout LatticeCompressor::layout(const std::vector<int64_t>&, size_t count, uint64_t, int ranks) const {
  RoundLayout l;
  if (count == 0) return l;
  const int b = first_codes_round();
  l.rounds = b + 2;
  if (b) l.round_elems[0] = static_cast<size_t>(ranks) * samples_for(count);
  l.round_elems[b] = units_for(count) + count;
  l.round_elems[b + 1] = units_for(count) + static_cast<size_t>(ranks);
  l.scratch_floats = Scratch::floats(count, ranks);
  l.describe = "n=" + std::to_string(count);
  return l;
}

const std::shared_ptr<const Compressor>& LatticeCompressor::round_vector_codec(int round) const {
  const int b = first_codes_round();
  return round >= b && (round - b) % 2 == 0 ? codes_ : exact_;
}

void LatticeCompressor::produce(const RoundCall& c, int round) const {
  Scratch s(c);
  const int b = first_codes_round();
  if (round == 0) {  // the values in the domain that travels, and fresh per-unit state
    std::memcpy(s.y, c.in, s.values * sizeof(float));
    if (rotate_) hadamard::rotate(s.y, s.values, c.key);
    std::fill(s.eps, s.eps + s.units, static_cast<float>(eps_));
    std::fill(s.attempt, s.attempt + s.units, 0.0f);
  }
  if (round < b) {  // eps=auto: this rank's values at the shared sample positions, in its own slot
    const size_t S = samples_for(s.values);
    const uint64_t key = rng_mix64(c.key ^ kSampleStream);
    std::fill(c.send[0], c.send[0] + static_cast<size_t>(c.ranks) * S, 0.0f);
    for (size_t k = 0; k < S; ++k) {
      const size_t at = std::min(s.values - 1, static_cast<size_t>((k + rng_uniform(key, static_cast<uint32_t>(k))) *
                                                                   static_cast<double>(s.values) / S));
      c.send[0][static_cast<size_t>(c.rank) * S + k] = s.y[at];
    }
    return;
  }
  const int k = (round - b) / 2;
  if ((round - b) % 2 == 0) {  // codes: [spacing of each pending unit][their values]
    const size_t m = s.pending(k);
    float* v = c.send[round] + m;
    size_t j = 0;
    for (size_t u = 0; u < s.units; ++u) {
      if (s.attempt[u] != static_cast<float>(k)) continue;
      c.send[round][j++] = s.eps[u];
      const size_t len = unit_len(s.values, u);
      std::memcpy(v, s.y + u * kUnit, len * sizeof(float));
      v += len;
    }
    return;
  }
  // The check: [missed each pending unit][misses per sender].
  const size_t m = s.pending(k);
  std::copy(s.missed, s.missed + m, c.send[round]);
  std::copy(s.from, s.from + c.ranks, c.send[round] + m);
}

void LatticeCompressor::estimate_spacing(const RoundCall& c) const {
  Scratch s(c);
  const size_t S = samples_for(s.values);
  double spread = 0, sum2 = 0, amax = 0;
  size_t seen = 0;
  for (size_t k = 0; k < S; ++k) {
    double lo = INFINITY, hi = -INFINITY, mean = 0;
    int finite = 0;
    for (int j = 0; j < c.ranks; ++j) {
      const double v = c.summed[0][static_cast<size_t>(j) * S + k];
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      mean += v;
      amax = std::max(amax, std::fabs(v));
      ++finite;
    }
    if (!finite) continue;
    mean /= finite;
    spread = std::max(spread, hi - lo);
    for (int j = 0; j < c.ranks; ++j) {
      const double v = c.summed[0][static_cast<size_t>(j) * S + k];
      if (std::isfinite(v)) sum2 += (v - mean) * (v - mean);
    }
    seen += static_cast<size_t>(finite);
  }
  // D bounds the distance between any two ranks' values; eps = 2 D / (q - 2)
  // makes every decode exact when it holds (lattice.h).
  const double sigma = seen ? std::sqrt(sum2 / static_cast<double>(seen)) : 0.0;
  const double tail = 2.0 * sigma * std::sqrt(2.0 * std::log(std::max(2.0, double(c.ranks) * double(s.values))));
  const double D = std::max(spread, tail);
  double eps = 2.0 * D / static_cast<double>((1u << bits_) - 2);
  eps = std::max({eps, amax * std::ldexp(1.0, -20), 1e-30});  // fp32 resolves no finer; never 0
  if (!seen) eps = 1.0;                                          // nothing finite sampled
  std::fill(s.eps, s.eps + s.units, static_cast<float>(eps));
}

void LatticeCompressor::consume(const RoundCall& c, int round) const {
  Scratch s(c);
  const int b = first_codes_round();
  if (round < b) return estimate_spacing(c);
  const int k = (round - b) / 2;
  float* result = c.summed_rw[b] + s.units;  // the sums of every unit's values (attempt 0's round buffer)
  if ((round - b) % 2 == 0) {
    // Codes: later attempts' sums go over their units; this rank's misses
    // are kept for the check (the engine clears them every round).
    const size_t m = s.pending(k);
    if (k > 0) {
      const float* v = c.summed[round] + m;
      for (size_t u = 0; u < s.units; ++u) {
        if (s.attempt[u] != static_cast<float>(k)) continue;
        const size_t len = unit_len(s.values, u);
        std::memcpy(result + u * kUnit, v, len * sizeof(float));
        v += len;
      }
    }
    std::fill(s.missed, s.missed + m, 0.0f);
    std::fill(s.from, s.from + c.ranks, 0.0f);
    for (const auto& miss : c.misses) {
      GW_REQUIRE(miss.second < m && miss.first >= 0 && miss.first < c.ranks, GW_ERR_INTERNAL, spec_, ": miss of unit ",
                 miss.second, " from rank ", miss.first, " of ", m, " pending units");
      s.missed[miss.second] = 1.0f;
      s.from[miss.first] += 1.0f;
    }
    return;
  }
  // The check, summed over ranks: the same verdict everywhere.
  const float* missed = c.summed[round];
  const float* from = missed + s.pending(k);
  size_t j = 0, again = 0;
  for (size_t u = 0; u < s.units; ++u) {
    if (s.attempt[u] != static_cast<float>(k)) continue;
    if (missed[j++] > 0) {
      s.attempt[u] = static_cast<float>(k + 1);
      s.eps[u] *= lattice::kResendGrowth;
      ++again;
    }
  }
  if (again && k == lattice::kMaxResends) {
    // Name the senders, most-missed first: an outlier is missed by every other
    // rank, and (its own reference being far off) misses each of them once.
    std::vector<int> order;
    for (int r = 0; r < c.ranks; ++r)
      if (from[r] > 0) order.push_back(r);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return from[a] > from[b]; });
    std::ostringstream who;
    for (int r : order) who << (who.tellp() > 0 ? ", " : "") << "rank " << r << " (" << from[r] << " misses)";
    fail(GW_ERR_CORRUPT, spec_, ": ", again, " unit(s) from ", who.str(), " failed their check after ",
         lattice::kMaxResends, " re-sends at ", lattice::kResendGrowth,
         "x the spacing each (inputs farther apart than the spacing allows, or a damaged payload)");
  }
  if (again) {
    if (c.retries) *c.retries += again;
    return;
  }
  if (rotate_) hadamard::unrotate(result, s.values, c.key);
  const float scale = c.average ? 1.0f / static_cast<float>(c.ranks) : 1.0f;
  for (size_t i = 0; i < s.values; ++i) c.out[i] = result[i] * scale;
}

int LatticeCompressor::next_round(const RoundCall& c, int round, size_t* elems) const {
  Scratch s(c);
  const int b = first_codes_round();
  if (round < b) {
    *elems = c.layout->round_elems[b];
    return b;
  }
  const int k = (round - b) / 2;
  if ((round - b) % 2 == 0) {  // the codes are followed by their check
    *elems = s.pending(k) + static_cast<size_t>(c.ranks);
    return round + 1;
  }
  const size_t m = s.pending(k + 1);  // units the check sent back
  if (!m) return -1;
  *elems = m + s.pending_values(k + 1);
  return round + 1;
}

void register_lattice(Registry& r) {
  r.add("lattice", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    const int bits = static_cast<int>(rd.get_int("bits", 4, 2, 8));
    double eps = 0;  // auto (also when absent)
    if (!rd.is("eps", "auto")) {
      eps = rd.get_double("eps", -1.0, 0, 3.0e38);
      GW_REQUIRE(eps != 0, GW_ERR_INVALID_ARGUMENT, "lattice: eps must be > 0 or auto, in spec '", rd.spec().text, "'");
      eps = std::max(eps, 0.0);
    }
    const bool rotate = rd.get_int("rotate", 1, 0, 1) != 0;
    return std::make_unique<LatticeCompressor>(bits, eps, rotate);
  });
}

}  // namespace gw
