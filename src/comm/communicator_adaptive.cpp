// L-GreCo's planning inside a call (src/planner/adaptive.h). At a plan step of
// the call's first lgreco layer, every lgreco layer of the call measures its
// family's candidates on this rank's input; the errors are averaged over ranks
// in one small allreduce of an internal layer (so every rank holds the same
// numbers), the knapsack picks each layer's candidate at alpha x the uniform
// setting's total error, and the plan is logged. Every rank plans at the same
// call from the same numbers, so all hold the identical plan; a rank that did
// not would send another candidate's spec and meet GW_ERR_MISMATCH.
//
// The plan covers the layers of one call (a DDP bucket, a gw_allreduce_multi):
// layers in different calls are planned apart. Measuring reads the input on
// the host (fp32): device buffers and other dtypes are refused at a plan step.
#include <chrono>
#include <cmath>

#include "src/comm/communicator.h"
#include "src/comm/device_staging.h"
#include "src/common/log.h"
#include "src/common/rng.h"
#include "src/planner/adaptive.h"
#include "src/planner/candidates.h"
#include "src/planner/knapsack.h"
#include "src/spec/registry.h"

namespace gw {

namespace {
constexpr const char* kErrorsLayer = "__gradwire_lgreco_errors__";
constexpr uint64_t kPlanStream = 0x6c677265636full;  // "lgreco": keys the measuring encodes

// The scheme a planned layer travels in: its candidate, or the uniform setting before the first plan.
const std::shared_ptr<const Scheme>& chosen(const AdaptiveFamily& f, const Layer& l) {
  return f.candidates()[l.planned < 0 ? f.uniform() : static_cast<size_t>(l.planned)];
}
}  // namespace

void Communicator::plan_adaptive(CallPlan& plan, const void* send) {
  std::vector<size_t> planned;  // the call's lgreco segments
  for (size_t i = 0; i < plan.segments.size(); ++i)
    if (plan.segments[i].codec->adaptive()) planned.push_back(i);
  if (planned.empty()) return;
  for (size_t i : planned) {  // a new family (spec) starts from the uniform setting
    Layer& l = *plan.segments[i].layer;
    if (l.planned_family != plan.segments[i].codec->adaptive()) {
      l.planned_family = plan.segments[i].codec->adaptive();
      l.planned = -1;
    }
  }
  const Segment& first = plan.segments[planned[0]];
  if (first.codec->adaptive()->plans_at(first.layer->step)) {
    GW_REQUIRE(plan.dtype == GW_FLOAT32 && !is_device_pointer(send), GW_ERR_UNSUPPORTED, "layer '",
               first.layer->name, "': lgreco measures its candidates on fp32 host buffers (this call has ",
               plan.dtype == GW_FLOAT32 ? "device buffers" : "another dtype", ")");
    auto t0 = std::chrono::steady_clock::now();
    const float* x = static_cast<const float*>(send);
    std::vector<float> errors;
    std::vector<size_t> at;  // where each layer's errors start
    for (size_t i : planned) {
      const Segment& s = plan.segments[i];
      const AdaptiveFamily& f = *s.codec->adaptive();
      std::vector<std::shared_ptr<const Compressor>> codecs;
      for (const auto& c : f.candidates()) codecs.push_back(c->codec);
      const uint64_t key = rng_derive_key(config_.seed, s.layer->step, s.layer->name_hash, 0, kPlanStream);
      at.push_back(errors.size());
      for (const planner::Candidate& c : planner::measure_candidates(x + s.offset, s.count, codecs, key))
        errors.push_back(static_cast<float>(c.error));
    }
    std::vector<float> mean(errors.size());
    if (layer(kErrorsLayer).spec_override.empty()) set_spec(kErrorsLayer, "none");
    allreduce({LayerRef{kErrorsLayer, 0, errors.size()}}, errors.data(), mean.data(), errors.size(), GW_FLOAT32,
              GW_AVG, nullptr);
    std::vector<std::vector<planner::Candidate>> layers;
    double budget = 0;
    for (size_t k = 0; k < planned.size(); ++k) {
      const Segment& s = plan.segments[planned[k]];
      const AdaptiveFamily& f = *s.codec->adaptive();
      layers.emplace_back();
      for (size_t c = 0; c < f.candidates().size(); ++c)
        layers.back().push_back({mean[at[k] + c], f.candidates()[c]->codec->encoded_bytes(s.count)});
      budget += f.alpha() * mean[at[k] + f.uniform()];
    }
    if (!std::isfinite(budget)) {  // a NaN/Inf input somewhere: no error to plan by; keep the plan
      GW_LOG(WARN, "lgreco: layer '", first.layer->name, "': the uniform setting's error is not finite; plan kept");
      budget = -1;
    }
    const planner::Plan p = budget >= 0 ? planner::solve_knapsack(layers, budget) : planner::Plan();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    uint64_t uniform_bytes = 0;
    for (size_t k = 0; k < planned.size(); ++k) {
      const Segment& s = plan.segments[planned[k]];
      const AdaptiveFamily& f = *s.codec->adaptive();
      uniform_bytes += layers[k][f.uniform()].bytes;
      Layer& l = *s.layer;
      if (p.choice.empty()) continue;
      if (l.planned != p.choice[k])
        GW_LOG(INFO, "lgreco: layer '", l.name, "' -> ", f.candidates()[p.choice[k]]->spec, " (was ",
               chosen(f, l)->spec, ")");
      l.planned = p.choice[k];
    }
    if (!p.choice.empty())
      GW_LOG(INFO, "lgreco: planned ", planned.size(), " layers in ", ms, " ms: ", p.bytes, " bytes against ",
           uniform_bytes, " uniform, error ", p.error, " against a budget of ", budget,
           p.feasible ? "" : " (no plan fits: the most accurate one)");
  }
  for (size_t i : planned) {  // the call travels in each layer's candidate
    Segment& s = plan.segments[i];
    const AdaptiveFamily& f = *s.codec->adaptive();
    s.scheme = chosen(f, *s.layer);
    s.codec = s.scheme->codec;
    s.traits = s.codec->traits();
  }
}

std::string Communicator::planned_spec_of(const char* name) {
  const Layer& l = layer(name);
  const auto* f = static_cast<const AdaptiveFamily*>(l.planned_family);
  if (!f) {  // no call yet: what the first one would use
    const auto s = make_scheme(configured_spec(l));
    if (!s->codec->adaptive()) return s->spec;
    f = s->codec->adaptive();
  }
  return chosen(*f, l)->spec;
}

}  // namespace gw
