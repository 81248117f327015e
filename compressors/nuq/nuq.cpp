#include "compressors/nuq/nuq.h"

#include <memory>

#include "src/common/error.h"
#include "compressors/qsgd/qsgd_kernels.h"
#include "src/spec/registry.h"

namespace gw {

NuqCompressor::NuqCompressor(NuqParams p)
    : QsgdEngineCompressor(kNuqCompressorId, "nuq", qsgd::NUQ, p.bits, p.bucket,
                           "nuq:bits=" + std::to_string(p.bits) + ",bucket=" + std::to_string(p.bucket)),
      p_(p) {}

void register_nuq(Registry& r) {
  r.add("nuq", [](SpecReader& s) -> std::unique_ptr<Compressor> {
    NuqParams p;
    p.bits = static_cast<int>(s.get_int("bits", 4, 2, 8));
    p.bucket = static_cast<int>(s.get_int("bucket", 512, 64, 8192));
    return std::make_unique<NuqCompressor>(p);
  });
}

}  // namespace gw
