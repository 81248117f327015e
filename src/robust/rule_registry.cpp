// robust=RULE:key=value,... -> a rule with its canonical name (every key
// written out, defaults included, so that two spellings of one rule hash the
// same in the plan fingerprint). The rules and keys are documented in
// docs/ROBUST.md; this is their one list.
#include <string>

#include "src/common/error.h"
#include "src/robust/peer_rule.h"
#include "src/robust/rule_math.h"
#include "src/robust/rules.h"
#include "src/spec/spec.h"

namespace gw {

std::string PeerRule::check_state(const RuleState& st, int) const {
  if (!st.center.empty() || !st.windows.empty() || st.long_steps || st.short_steps || st.count)
    return concat_parts("robust=", name(), " keeps no state between calls, the record holds ", st.center.size(),
                        " + ", st.windows.size(), " floats, count ", st.count, " and window steps ", st.long_steps,
                        "/", st.short_steps);
  return std::string();
}

const char* peer_rule_names() { return "none|mean|median|trimmed|krum|geomed|cc|safeguard"; }

std::shared_ptr<const PeerRule> make_peer_rule(const std::string& text) {
  if (text == "none") return nullptr;
  Spec spec = parse_spec(text);
  SpecReader r(spec);
  const std::string& family = spec.family;
  std::string keys;  // canonical "k=v,..." of the family's own keys
  auto key = [&](const char* k, const std::string& v) { keys += (keys.empty() ? "" : ",") + std::string(k) + "=" + v; };
  std::unique_ptr<PeerRule> rule;
  // Each family's keys, read before the shared bucket key.
  int b = 0, f = 0, select = 0, iters = 0, long_window = 0, short_window = 0;
  double nu = 0, tau = 0, ratio = 0;
  if (family == "mean" || family == "median") {
  } else if (family == "trimmed") {
    b = static_cast<int>(r.get_int("b", 1, 1, 1000));
    key("b", std::to_string(b));
  } else if (family == "krum") {
    f = static_cast<int>(r.get_int("f", 1, 0, 1000));
    select = static_cast<int>(r.get_int("m", 1, 1, 1000));
    key("f", std::to_string(f));
    key("m", std::to_string(select));
  } else if (family == "geomed") {
    nu = r.get_double("nu", 0.1, 1e-30, 1e30);
    iters = static_cast<int>(r.get_int("iters", 4, 1, 100));
    key("nu", format_number(nu));
    key("iters", std::to_string(iters));
  } else if (family == "cc") {
    tau = r.get_double("tau", 10, 1e-30, 1e30);
    iters = static_cast<int>(r.get_int("iters", 1, 1, 100));
    key("tau", format_number(tau));
    key("iters", std::to_string(iters));
  } else if (family == "safeguard") {
    long_window = static_cast<int>(r.get_int("long", 32, 1, 1000000));
    short_window = static_cast<int>(r.get_int("short", 4, 1, 1000000));
    // 6, not 3: minibatch noise is heavy-tailed and lies in few directions, and
    // at 3 honest ranks left the good set early in real training (docs/ROBUST.md).
    ratio = r.get_double("ratio", 6, 1.0, 1e6);
    key("long", std::to_string(long_window));
    key("short", std::to_string(short_window));
    key("ratio", format_number(ratio));
  } else {
    fail(GW_ERR_INVALID_ARGUMENT, "robust: unknown rule '", clip_text(family), "' (", peer_rule_names(), ")");
  }
  // SafeguardSGD tracks ranks, which bucket means are not.
  const int s = family == "safeguard" ? 1 : static_cast<int>(r.get_int("bucket", 1, 1, 1000));
  r.finish();
  const std::string base_name = keys.empty() ? family : family + ":" + keys;
  if (family == "mean") rule = make_mean_rule(base_name);
  else if (family == "median") rule = make_median_rule(base_name);
  else if (family == "trimmed") rule = make_trimmed_mean_rule(base_name, b);
  else if (family == "krum") rule = make_krum_rule(base_name, f, select);
  else if (family == "geomed") rule = make_geomed_rule(base_name, nu, iters);
  else if (family == "cc") rule = make_centered_clip_rule(base_name, tau, iters);
  else rule = make_safeguard_rule(base_name, long_window, short_window, ratio);
  if (s == 1) return std::shared_ptr<const PeerRule>(std::move(rule));
  const std::string name = base_name + (keys.empty() ? ":" : ",") + "bucket=" + std::to_string(s);
  return std::shared_ptr<const PeerRule>(make_bucketed_rule(name, std::move(rule), s));
}

}  // namespace gw
