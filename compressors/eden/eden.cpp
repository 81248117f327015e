#include "compressors/eden/eden.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <mutex>

#include "compressors/common/bitpack.h"
#include "compressors/common/hadamard.h"
#include "compressors/eden/eden_sum.h"
#include "src/common/error.h"
#include "src/spec/registry.h"

namespace gw {
namespace eden {
namespace {

double pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Lloyd's iteration on the standard normal density: thresholds at the
// midpoints, levels at the conditional means of their cells, until they stop moving.
std::vector<float> compute_levels(int bits) {
  const int k = 1 << bits;
  std::vector<double> c(k);
  for (int j = 0; j < k; ++j) c[j] = -3.0 + 6.0 * (j + 0.5) / k;
  for (int it = 0; it < 20000; ++it) {
    double moved = 0, lo = -INFINITY;
    std::vector<double> next(k);
    for (int j = 0; j < k; ++j) {
      const double hi = j + 1 < k ? 0.5 * (c[j] + c[j + 1]) : INFINITY;
      const double mass = cdf(hi) - cdf(lo);
      next[j] = mass > 0 ? (pdf(lo) - pdf(hi)) / mass : c[j];
      moved = std::max(moved, std::fabs(next[j] - c[j]));
      lo = hi;
    }
    c.swap(next);
    if (moved < 1e-12) break;
  }
  return std::vector<float>(c.begin(), c.end());
}

}  // namespace

const std::vector<float>& lloyd_max_levels(int bits) {
  static std::array<std::vector<float>, 9> tables;
  static std::array<std::once_flag, 9> once;
  std::call_once(once[bits], [&] { tables[bits] = compute_levels(bits); });
  return tables[bits];
}

}  // namespace eden

namespace {
size_t buckets(size_t n) { return (n + eden::kBucket - 1) / eden::kBucket; }
size_t codes_bytes(size_t len, int bits) { return (len * static_cast<size_t>(bits) + 7) / 8; }
}  // namespace

EdenLevels::EdenLevels(int bits)
    : bits_(bits), levels_(eden::lloyd_max_levels(bits)), spec_("eden-levels:bits=" + std::to_string(bits)) {
  for (size_t j = 0; j + 1 < levels_.size(); ++j) thresholds_.push_back(0.5f * (levels_[j] + levels_[j + 1]));
}

CompressorTraits EdenLevels::traits() const {
  CompressorTraits t;
  t.unbiased = true;     // over rotations (the scheme draws a new one every call)
  t.whole_layer = true;  // one rotation domain: summed as sent, never re-encoded by SRA
  return t;
}

size_t EdenLevels::encoded_bytes(size_t n) const {
  const size_t nb = buckets(n);
  if (nb == 0) return 0;
  return nb * 4 + (nb - 1) * codes_bytes(eden::kBucket, bits_) + codes_bytes(n - (nb - 1) * eden::kBucket, bits_);
}

size_t EdenLevels::encode(const float* x, size_t n, uint8_t* out, uint64_t, bool* nonfinite) const {
  const size_t nb = buckets(n);
  uint8_t* codes = out + nb * 4;
  uint8_t lv[eden::kBucket];
  float lev[eden::kBucket];
  for (size_t b = 0; b < nb; ++b) {
    const float* y = x + b * eden::kBucket;
    const size_t len = std::min(eden::kBucket, n - b * eden::kBucket);
    double norm2 = eden::bucket_sum(y, y, len);
    float scale = 0.0f;
    if (!std::isfinite(norm2)) {
      *nonfinite = true;
      scale = NAN;
      std::fill(lv, lv + len, uint8_t(0));
    } else if (norm2 > 0) {
      const float inv_sigma = static_cast<float>(std::sqrt(static_cast<double>(len) / norm2));
      const uint32_t top = 1u << (bits_ - 1);
      for (size_t i = 0; i < len; ++i) {
        const float z = y[i] * inv_sigma;
        // The nearest level: how many thresholds lie at or below z, by a
        // branchless binary search (bits steps; a branch here is a coin flip).
        uint32_t code = 0;
        for (uint32_t step = top; step >= 1; step >>= 1) code += thresholds_[code + step - 1] <= z ? step : 0;
        lv[i] = static_cast<uint8_t>(code);
        lev[i] = levels_[code];
      }
      const double dot = eden::bucket_sum(y, lev, len);
      scale = dot > 0 ? static_cast<float>(norm2 / dot) : 0.0f;
    } else {
      std::fill(lv, lv + len, uint8_t(0));
    }
    std::memcpy(out + b * 4, &scale, 4);
    bitpack::pack(lv, len, bits_, codes);
    codes += codes_bytes(len, bits_);
  }
  return encoded_bytes(n);
}

template <bool kAdd>
void EdenLevels::decode_impl(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  GW_REQUIRE(bytes == encoded_bytes(n), GW_ERR_CORRUPT, spec_, " payload of ", bytes, " bytes for ", n,
             " values (expected ", encoded_bytes(n), ")");
  const size_t nb = buckets(n);
  const uint8_t* codes = in + nb * 4;
  uint8_t lv[eden::kBucket];
  for (size_t b = 0; b < nb; ++b) {
    const size_t len = std::min(eden::kBucket, n - b * eden::kBucket);
    float scale;
    std::memcpy(&scale, in + b * 4, 4);
    bitpack::unpack(codes, len, bits_, lv);  // every code of B bits names a level: no code is invalid
    float* o = out + b * eden::kBucket;
    for (size_t i = 0; i < len; ++i) {
      const float v = scale * levels_[lv[i]];
      o[i] = kAdd ? o[i] + v : v;
    }
    codes += codes_bytes(len, bits_);
  }
}

void EdenLevels::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  decode_impl<false>(in, bytes, n, out);
}
void EdenLevels::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  decode_impl<true>(in, bytes, n, acc);
}

bool EdenLevels::packed_levels(PackedLevels* out) const {
  out->bits = bits_;
  out->bucket = eden::kBucket;
  out->scale_bytes = 4;
  out->sign_magnitude = false;
  out->max_level = (1u << bits_) - 1;
  return true;
}

EdenCompressor::EdenCompressor(int bits)
    : spec_("eden:bits=" + std::to_string(bits)), levels_(std::make_shared<EdenLevels>(bits)) {}

CompressorTraits EdenCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.whole_layer = true;  // one rotation per layer
  return t;
}

RoundLayout EdenCompressor::layout(const std::vector<int64_t>&, size_t count, uint64_t, int) const {
  RoundLayout l;
  if (count == 0) return l;
  l.rounds = 1;
  l.round_elems[0] = hadamard::padded_count(count);
  l.describe = "n=" + std::to_string(count);
  return l;
}

void EdenCompressor::produce(const RoundCall& c, int) const {
  const size_t padded = c.layout->round_elems[0];
  std::memcpy(c.send[0], c.in, c.count * sizeof(float));
  std::fill(c.send[0] + c.count, c.send[0] + padded, 0.0f);
  hadamard::rotate(c.send[0], padded, c.key);
}

void EdenCompressor::consume(const RoundCall& c, int) const {
  float* sum = c.summed_rw[0];
  hadamard::unrotate(sum, c.layout->round_elems[0], c.key);  // one inverse rotation of the sum
  const float scale = c.average ? 1.0f / static_cast<float>(c.ranks) : 1.0f;
  for (size_t i = 0; i < c.count; ++i) c.out[i] = sum[i] * scale;
}

void register_eden(Registry& r) {
  r.add("eden", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    return std::make_unique<EdenCompressor>(static_cast<int>(rd.get_int("bits", 4, 1, 8)));
  });
}

}  // namespace gw
