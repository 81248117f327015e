// The Compressor face of a round scheme (round_codec.h): what every such family
// shares. A single payload of the whole layer never travels (the rounds'
// vectors do, in their codecs: src/core/facade_compressor.h).
#pragma once

#include "src/core/facade_compressor.h"
#include "src/scheme/round_codec.h"

namespace gw {

class RoundSchemeCompressor : public FacadeCompressor, public RoundCodec {
 public:
  const RoundCodec* round_codec() const final { return this; }

 protected:
  const char* travels_as() const final { return "runs through its rounds"; }
};

}  // namespace gw
