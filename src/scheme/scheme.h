// A layer's scheme: what its spec asks a call to do beyond one codec. Today a
// codec plus an error-feedback mode (`ef=0|1|ef21`, read by the registry for
// every family; default on for codecs whose traits ask for it, topk). The
// scheme's canonical spec (the codec's, plus ",ef=..." when it differs from
// off, or ",ef=0" where the family's default is on) identifies it on the wire
// and keys its per-layer state (layer_state.h).
#pragma once

#include <memory>
#include <string>

#include "src/core/compressor.h"

namespace gw {

struct Scheme {
  std::shared_ptr<const Compressor> codec;
  Feedback feedback = Feedback::kNone;
  std::string spec;  // canonical
};

// Spec string -> scheme (cached by text and canonical spec, like codecs).
std::shared_ptr<const Scheme> make_scheme(const std::string& spec_text);

const char* feedback_name(Feedback f);  // "0", "1", "ef21"

}  // namespace gw
