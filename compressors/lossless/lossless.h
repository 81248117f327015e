// The lossless stage of the CPU path: "<quantizer spec>,lossless=elias|zstd".
//
// Not a family of its own: the registry (src/spec/registry.cpp) reads the
// `lossless` key of every spec (default none) and, when it is not none, wraps the
// family's codec with make_lossless(). Any codec that describes its payload
// through Compressor::packed_levels() (maxmin, qsgd, nuq) can be wrapped; for the
// others the key is a spec error naming it. A new quantizer gets the stage by
// implementing packed_levels(), nothing else.
//
// The wrapper's payload for n values (variable size: traits().fixed_size is
// false; encoded_bytes(n) = 4 + inner.encoded_bytes(n) is the capacity):
//   [uint32 little-endian word][body]
//   word bits 0..30: body length in bytes; bit 31: "stored" (the body is the inner
//   codec's payload as is: used when coding would not make it smaller, or when a
//   code is not representable). So a payload is self-delimiting and pieces can be
//   walked back to back (payload_extent()).
//   - elias: body = elias_code() of the inner payload (elias.h): the per-bucket
//     scales as raw bytes, one center level per bucket, then per value an
//     Elias-gamma code of its level (ranked around the center) and, for
//     sign-magnitude codes with a nonzero level, the sign bit.
//   - zstd: body = one zstd frame (level 1) of the inner payload. Without libzstd
//     at build time, lossless=zstd is GW_ERR_UNSUPPORTED.
// decode() reconstructs the inner payload and runs the inner codec's decode, so
// results are bit-identical to the inner codec's. Every length is validated
// against what arrived; damaged or truncated bodies are GW_ERR_CORRUPT.
//
// id(): 0x8000 | mode << 8 | inner id. There is no GPU twin (variable-length
// coding belongs to the CPU path), so make_device_compressor() returns null and
// device buffers are staged through host memory.
#pragma once

#include <memory>
#include <string>

#include "src/core/compressor.h"

namespace gw {

enum class LosslessMode : int { kNone = 0, kElias = 1, kZstd = 2 };

// The values of the `lossless` key, in the order of LosslessMode.
inline const char* lossless_mode_name(LosslessMode m) {
  return m == LosslessMode::kElias ? "elias" : m == LosslessMode::kZstd ? "zstd" : "none";
}

// `inner` wrapped with the stage (inner itself for kNone). GW_ERR_INVALID_ARGUMENT
// when inner has no packed levels, GW_ERR_UNSUPPORTED for zstd without libzstd.
std::shared_ptr<const Compressor> make_lossless(std::shared_ptr<const Compressor> inner, LosslessMode mode);

bool lossless_zstd_available();

}  // namespace gw
