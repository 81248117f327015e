// Spec string -> compressor. Families register a factory; make_compressor()
// parses the spec, lets the family read its typed keys, and caches the result
// by canonical spec so layers with equal specs share one const codec. The
// registry itself reads one key of every spec, `lossless=none|elias|zstd`
// (compressors/lossless/lossless.h), and wraps the family's codec when it is set,
// and `ef=0|1|ef21` (scheme/scheme.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/compressor.h"
#include "src/scheme/scheme.h"
#include "src/spec/spec.h"

namespace gw {

using CompressorFactory = std::function<std::unique_ptr<Compressor>(SpecReader&)>;

class Registry {
 public:
  void add(const std::string& family, CompressorFactory factory);
  // The scheme of a spec (codec + feedback); make() is its codec.
  std::shared_ptr<const Scheme> make_scheme(const std::string& spec_text);
  std::shared_ptr<const Compressor> make(const std::string& spec_text) { return make_scheme(spec_text)->codec; }
  std::vector<std::string> families() const;
};

Registry& registry();  // the process-wide registry, builtins registered on first use

// Convenience: registry().make(spec).
std::shared_ptr<const Compressor> make_compressor(const std::string& spec_text);

}  // namespace gw
