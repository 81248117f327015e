#include "src/spec/registry.h"

#include <map>
#include <mutex>

#include "src/common/error.h"
#include "compressors/lossless/lossless.h"

namespace gw {

void register_builtin_compressors(Registry& r);  // compressors/builtin.cpp

namespace {
struct RegistryData {
  std::mutex mu;
  std::map<std::string, CompressorFactory> factories;
  std::map<std::string, std::shared_ptr<const Compressor>> cache;  // codecs by canonical spec
  std::map<std::string, std::shared_ptr<const Scheme>> schemes;     // by text and canonical spec
};
RegistryData& data() {
  static RegistryData d;
  return d;
}
}  // namespace

void Registry::add(const std::string& family, CompressorFactory factory) {
  auto& d = data();
  std::lock_guard<std::mutex> lock(d.mu);
  d.factories[family] = std::move(factory);
}

const char* feedback_name(Feedback f) { return f == Feedback::kResidual ? "1" : f == Feedback::kEf21 ? "ef21" : "0"; }

std::shared_ptr<const Scheme> make_scheme(const std::string& spec_text) { return registry().make_scheme(spec_text); }

std::shared_ptr<const Scheme> Registry::make_scheme(const std::string& spec_text) {
  auto& d = data();
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.schemes.find(spec_text);
    if (it != d.schemes.end()) return it->second;
  }
  Spec spec = parse_spec(spec_text);
  CompressorFactory factory;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.factories.find(spec.family);
    if (it == d.factories.end()) {
      std::string known;
      for (auto& f : d.factories) known += (known.empty() ? "" : ", ") + f.first;
      fail(GW_ERR_INVALID_ARGUMENT, "unknown compressor '", clip_text(spec.family), "' in spec '", clip_text(spec.text),
           "' (known: ", known, ")");
    }
    factory = it->second;
  }
  SpecReader reader(spec);
  // Every family's spec takes `lossless` (default none, left out of canonical
  // specs); make_lossless() refuses it for codecs without packed levels.
  const std::string lossless = reader.get_choice("lossless", "none", {"none", "elias", "zstd"});
  const std::string ef = reader.get_choice("ef", "default", {"default", "0", "1", "ef21"});
  std::shared_ptr<const Compressor> made = factory(reader);
  reader.finish();
  made = make_lossless(std::move(made), lossless == "elias"  ? LosslessMode::kElias
                                        : lossless == "zstd" ? LosslessMode::kZstd
                                                             : LosslessMode::kNone);
  GW_REQUIRE(!(made->round_codec() && ef == "ef21"), GW_ERR_INVALID_ARGUMENT, "spec '", clip_text(spec.text),
             "': ef=ef21 wraps a codec's single payload; a round scheme takes ef=0 or ef=1");
  GW_REQUIRE(!(made->adaptive() && (ef == "1" || ef == "ef21")), GW_ERR_INVALID_ARGUMENT, "spec '",
             clip_text(spec.text), "': lgreco plans codecs without error feedback for now (ef=0)");
  const bool wants = made->traits().needs_error_feedback;
  GW_REQUIRE(!(made->round_codec() && ef == "1" && !wants), GW_ERR_INVALID_ARGUMENT, "spec '", clip_text(spec.text),
             "': this round scheme is unbiased and keeps no residual; it takes no ef=1");
  auto scheme = std::make_shared<Scheme>();
  scheme->feedback = ef == "1" || (ef == "default" && wants) ? Feedback::kResidual
                     : ef == "ef21"                           ? Feedback::kEf21
                                                              : Feedback::kNone;
  scheme->spec = made->spec();
  if (scheme->feedback != Feedback::kNone || wants)
    scheme->spec += std::string(",ef=") + feedback_name(scheme->feedback);
  std::lock_guard<std::mutex> lock(d.mu);
  auto canon = d.cache.find(made->spec());
  if (canon != d.cache.end()) made = canon->second;  // share one codec object per canonical spec
  d.cache[made->spec()] = made;
  scheme->codec = made;
  auto same = d.schemes.find(scheme->spec);
  std::shared_ptr<const Scheme> result = same != d.schemes.end() ? same->second : scheme;
  d.schemes[scheme->spec] = result;
  d.schemes[spec_text] = result;
  return result;
}

std::vector<std::string> Registry::families() const {
  auto& d = data();
  std::lock_guard<std::mutex> lock(d.mu);
  std::vector<std::string> out;
  for (auto& f : d.factories) out.push_back(f.first);
  return out;
}

Registry& registry() {
  static Registry r;
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_compressors(r); });
  return r;
}

std::shared_ptr<const Compressor> make_compressor(const std::string& spec_text) {
  return registry().make(spec_text);
}

}  // namespace gw
