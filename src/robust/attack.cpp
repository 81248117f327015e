#include "src/robust/attack.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "src/common/error.h"
#include "src/common/rng.h"
#include "src/robust/rule_math.h"
#include "src/spec/spec.h"

namespace gw {

double Attack::alie_z(int world, int attackers) {
  const int s = world / 2 + 1 - attackers;
  const double p = static_cast<double>(world - s) / world;
  // Phi^-1(p) by bisection on Phi(x) = erfc(-x / sqrt 2) / 2: exact enough, and only at setup.
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::unique_ptr<Attack> Attack::make(const std::string& text, int world) {
  if (text == "none") return nullptr;
  Spec spec = parse_spec(text);
  SpecReader r(spec);
  std::unique_ptr<Attack> a(new Attack());
  a->world_ = world;
  for (const std::string& item : r.get_list("ranks", std::to_string(world - 1).c_str())) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    GW_REQUIRE(end && *end == 0 && v >= 0 && v < world, GW_ERR_INVALID_ARGUMENT, "attack=", clip_text(text),
               ": rank '", clip_text(item), "' is not a rank of this communicator (0..", world - 1, ")");
    a->ranks_.push_back(static_cast<int>(v));
  }
  std::sort(a->ranks_.begin(), a->ranks_.end());
  a->ranks_.erase(std::unique(a->ranks_.begin(), a->ranks_.end()), a->ranks_.end());
  std::string ranks;
  for (int q : a->ranks_) ranks += (ranks.empty() ? "" : "|") + std::to_string(q);
  std::string keys = "ranks=" + ranks;
  const std::string& f = spec.family;
  if (f == "signflip") {
    a->kind_ = Kind::kSignflip;
    a->scale_ = r.get_double("scale", 1, 0, 1e30);
    keys += ",scale=" + format_number(a->scale_);
  } else if (f == "gaussian") {
    a->kind_ = Kind::kGaussian;
    a->sigma_ = r.get_double("sigma", 1, 0, 1e30);
    keys += ",sigma=" + format_number(a->sigma_);
  } else if (f == "alie") {
    a->kind_ = Kind::kAlie;
    const bool auto_z = r.is("z", "auto");  // absent is auto too (the NaN default)
    const double z = auto_z ? std::nan("") : r.get_double("z", std::nan(""), -1e6, 1e6);
    a->z_ = std::isnan(z) ? alie_z(world, static_cast<int>(a->ranks_.size())) : z;
    keys += ",z=" + format_number(a->z_);
  } else if (f == "ipm") {
    a->kind_ = Kind::kIpm;
    a->eps_ = r.get_double("eps", 0.1, -1e6, 1e6);
    keys += ",eps=" + format_number(a->eps_);
  } else if (f == "mimic") {
    a->kind_ = Kind::kMimic;
    int first_honest = 0;
    while (a->attacks(first_honest)) ++first_honest;
    a->target_ = static_cast<int>(r.get_int("target", first_honest, 0, world - 1));
    GW_REQUIRE(!a->attacks(a->target_), GW_ERR_INVALID_ARGUMENT, "attack=", clip_text(text), ": target ", a->target_,
               " is an attacking rank; mimic copies an honest one");
    keys += ",target=" + std::to_string(a->target_);
  } else if (f == "labelflip") {
    a->kind_ = Kind::kLabelflip;
  } else if (f == "malformed" || f == "truncated" || f == "oversized" || f == "garbage" || f == "equivocate") {
    a->kind_ = Kind::kWire;
    a->wire_ = f == "malformed"   ? WireAttack::kMalformed
               : f == "truncated" ? WireAttack::kTruncated
               : f == "oversized" ? WireAttack::kOversized
               : f == "garbage"   ? WireAttack::kGarbage
                                  : WireAttack::kEquivocate;
  } else {
    fail(GW_ERR_INVALID_ARGUMENT, "attack: unknown kind '", clip_text(f),
         "' (none|signflip|gaussian|alie|ipm|mimic|labelflip|malformed|truncated|oversized|garbage|equivocate)");
  }
  r.finish();
  GW_REQUIRE(static_cast<int>(a->ranks_.size()) < world, GW_ERR_INVALID_ARGUMENT, "attack=", clip_text(text),
             ": every rank attacks; the harness needs an honest rank");
  a->name_ = f + ":" + keys;
  return a;
}

bool Attack::attacks(int rank) const { return std::binary_search(ranks_.begin(), ranks_.end(), rank); }

void Attack::apply(float* x, size_t count, const float* all, uint64_t key) const {
  switch (kind_) {
    case Kind::kLabelflip:
    case Kind::kWire:  // the transport does the harm
      return;
    case Kind::kSignflip:
      for (size_t i = 0; i < count; ++i) x[i] = static_cast<float>(-scale_ * x[i]);
      return;
    case Kind::kGaussian:
      for (size_t i = 0; i < count; ++i) {  // Box-Muller on two uniforms of counter i (counts < 2^31)
        const double u1 = (rng_u32(key, static_cast<uint32_t>(2 * i)) + 1.0) * (1.0 / 4294967297.0);
        const double u2 = rng_u32(key, static_cast<uint32_t>(2 * i + 1)) * (1.0 / 4294967296.0);
        x[i] = static_cast<float>(sigma_ * std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
      }
      return;
    case Kind::kMimic:
      std::copy(all + static_cast<size_t>(target_) * count, all + static_cast<size_t>(target_ + 1) * count, x);
      return;
    case Kind::kAlie:
    case Kind::kIpm:
      break;
  }
  // Statistics of the honest rows, per coordinate, in double.
  const int honest = world_ - static_cast<int>(ranks_.size());
  for (size_t i = 0; i < count; ++i) {
    double s = 0, s2 = 0;
    for (int q = 0; q < world_; ++q) {
      if (attacks(q)) continue;
      const double v = all[static_cast<size_t>(q) * count + i];
      s += v;
      s2 += v * v;
    }
    const double mean = s / honest;
    if (kind_ == Kind::kIpm) {
      x[i] = static_cast<float>(-eps_ * mean);
    } else {
      const double var = std::max(0.0, s2 / honest - mean * mean);
      x[i] = static_cast<float>(mean - z_ * std::sqrt(var));
    }
  }
}

}  // namespace gw
