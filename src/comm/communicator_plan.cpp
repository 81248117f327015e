// The communicator's planning: which scheme each layer's call uses (resolved
// once per layer), and which algorithm and rounds a call runs.
#include <algorithm>

#include "src/comm/communicator.h"
#include "src/comm/dtype.h"
#include "src/spec/registry.h"

namespace gw {

const std::shared_ptr<const Scheme>& Communicator::scheme_for(Layer& l, size_t count, gw_dtype dtype) {
  static const std::shared_ptr<const Scheme> none = make_scheme("none");
  if (count * dtype_size(dtype) < config_.min_compress_bytes) return none;
  if (!l.scheme) l.scheme = make_scheme(configured_spec(l));
  return l.scheme;
}

const std::string& Communicator::configured_spec(const Layer& l) const {
  return l.spec_override.empty() ? config_.compressor : l.spec_override;
}

Segment Communicator::segment_for(const char* name, size_t offset, size_t count, gw_dtype dtype) {
  Segment s;
  s.layer = &layer(name);
  s.scheme = scheme_for(*s.layer, count, dtype);
  s.codec = s.scheme->codec;
  s.traits = s.codec->traits();
  s.offset = offset;
  s.count = count;
  return s;
}

void Communicator::set_spec(const char* name, const char* spec) {
  std::string canonical = make_scheme(spec)->spec;  // validates before storing
  Layer& l = layer(name);
  l.spec_override = canonical;
  l.scheme = nullptr;  // resolved again on the next call; its state rebinds (and resets) there
}

void Communicator::set_robust(const char* name, const char* rule) {
  std::shared_ptr<const PeerRule> r = *rule ? make_peer_rule(rule) : nullptr;  // validates before storing
  GW_REQUIRE(!r || transport_, GW_ERR_UNSUPPORTED, "robust=", r ? r->name() : "",
             " does not run on the stream-ordered (NCCL) path yet; use the MPI transport");
  Layer& l = layer(name);
  l.rule_set = *rule != 0;
  l.rule = r;
  l.rule_state.clear();
}

void Communicator::set_shape(const char* name, const std::vector<int64_t>& dims) { layer(name).shape = dims; }

std::string Communicator::spec_of(const char* name) {
  const Layer& l = layer(name);
  return make_scheme(configured_spec(l))->spec;
}

void Communicator::plan_call(CallPlan& plan, bool device_data) const {
  const int n = size();
  // Algorithm: allgather-based sends (n-1) payloads per rank and quantizes
  // once; SRA sends 2(n-1)/n payloads but quantizes twice. At n <= 2 the bytes
  // are equal, so allgather wins; above that SRA wins once payloads dominate latency.
  if (has_peer_rule(plan) && plan.kind == CallKind::kAllreduce) {
    plan.algorithm = Algorithm::kAllgather;  // the rule needs every peer's vector, at any size
  } else if (plan.total * dtype_size(plan.dtype) <= config_.fallback_bytes) {
    plan.algorithm = Algorithm::kPlain;  // latency-bound: the transport's own collective wins
  } else if (plan.kind == CallKind::kAllgather) {
    plan.algorithm = Algorithm::kAllgather;
  } else if (std::any_of(plan.segments.begin(), plan.segments.end(),
                         [](const Segment& s) { return s.traits.whole_layer; })) {
    plan.algorithm = Algorithm::kAllgather;  // a whole-layer codec has no SRA parts to scatter
  } else if (config_.algorithm != Algorithm::kAuto) {
    plan.algorithm = config_.algorithm;
  } else {
    plan.algorithm = (n >= 3 && plan.total * dtype_size(plan.dtype) >= (256u << 10)) ? Algorithm::kSra
                                                                                   : Algorithm::kAllgather;
  }
  // chunk_bytes=auto: every round of the GPU paths costs fixed work (launches,
  // events, synchronizations) that small rounds do not amortize (see README).
  const size_t chunk = config_.chunk_bytes ? config_.chunk_bytes : device_data ? kDeviceChunkBytes : kHostChunkBytes;
  build_rounds(plan, std::max<size_t>(chunk / sizeof(float), 1));
}

}  // namespace gw
