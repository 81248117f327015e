#include "spec/registry.h"

#include <map>
#include <mutex>

#include "common/error.h"
#include "lossless/lossless.h"

namespace gw {

void register_builtin_compressors(Registry& r);  // compressors/builtin.cpp

namespace {
struct RegistryData {
  std::mutex mu;
  std::map<std::string, CompressorFactory> factories;
  std::map<std::string, std::shared_ptr<const Compressor>> cache;  // by text and canonical spec
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

std::shared_ptr<const Compressor> Registry::make(const std::string& spec_text) {
  auto& d = data();
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.cache.find(spec_text);
    if (it != d.cache.end()) return it->second;
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
  std::shared_ptr<const Compressor> made = factory(reader);
  reader.finish();
  made = make_lossless(std::move(made), lossless == "elias"  ? LosslessMode::kElias
                                        : lossless == "zstd" ? LosslessMode::kZstd
                                                             : LosslessMode::kNone);
  std::lock_guard<std::mutex> lock(d.mu);
  auto canon = d.cache.find(made->spec());
  if (canon != d.cache.end()) made = canon->second;  // share one object per canonical spec
  d.cache[made->spec()] = made;
  d.cache[spec_text] = made;
  return made;
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
