#include "compressors/lgreco/lgreco.h"

#include <cstdio>

#include "src/common/error.h"
#include "src/spec/registry.h"

namespace gw {

LgrecoCompressor::LgrecoCompressor(std::string spec, std::vector<std::shared_ptr<const Scheme>> candidates,
                                   size_t uniform, uint64_t warmup, uint64_t period, double alpha)
    : spec_(std::move(spec)), candidates_(std::move(candidates)), uniform_(uniform), warmup_(warmup),
      period_(period), alpha_(alpha) {}

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : "|") + x;
  return s;
}

}  // namespace

void register_lgreco(Registry& r) {
  r.add("lgreco", [](SpecReader& rd) -> std::unique_ptr<Compressor> {
    const std::string family = rd.get_choice("family", "maxmin", {"maxmin", "qsgd", "nuq"});
    const std::vector<std::string> bits = rd.get_list("bits", "2|3|4|6|8");
    const std::vector<std::string> buckets = rd.get_list("bucket", "128|512|2048");
    const uint64_t warmup = static_cast<uint64_t>(rd.get_int("warmup", 10, 0, int64_t(1) << 40));
    const uint64_t period = static_cast<uint64_t>(rd.get_int("period", 100, 1, int64_t(1) << 40));
    const double alpha = rd.get_double("alpha", 1.0, 1e-6, 1e6);
    // Every grid point is a spec of the family; a bad one is refused here, by its own family.
    std::vector<std::shared_ptr<const Scheme>> candidates;
    for (const std::string& b : bits)
      for (const std::string& s : buckets) candidates.push_back(make_scheme(family + ":bits=" + b + ",bucket=" + s));
    const std::shared_ptr<const Scheme> uniform = make_scheme(family);
    size_t u = 0;
    while (u < candidates.size() && candidates[u]->spec != uniform->spec) ++u;
    if (u == candidates.size()) candidates.push_back(uniform);  // the budget's reference is always a choice
    char a[32];
    std::snprintf(a, sizeof(a), "%.9g", alpha);
    const std::string spec = "lgreco:family=" + family + ",bits=" + joined(bits) + ",bucket=" + joined(buckets) +
                             ",warmup=" + std::to_string(warmup) + ",period=" + std::to_string(period) +
                             ",alpha=" + a;
    return std::make_unique<LgrecoCompressor>(spec, std::move(candidates), u, warmup, period, alpha);
  });
}

}  // namespace gw
