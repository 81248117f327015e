#include "compressors/lossless/lossless.h"

#include <cstring>
#include <vector>

#include "src/common/error.h"
#include "compressors/lossless/elias.h"

#ifdef GW_HAVE_ZSTD
#include <zstd.h>
#endif

namespace gw {
namespace {

constexpr uint32_t kStored = 1u << 31;
constexpr size_t kPrefix = 4;
constexpr size_t kMaxBody = kStored - 1;

// Grow-only per-thread scratch: the codec object is const and shared by threads.
uint8_t* scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes) buf.resize(bytes);
  return buf.data();
}

#ifdef GW_HAVE_ZSTD
constexpr int kZstdLevel = 1;
struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts ctx;
  GW_REQUIRE(ctx.c && ctx.d, GW_ERR_SYSTEM, "zstd: out of memory creating a context");
  return ctx;
}
#endif

class LosslessCompressor final : public Compressor {
 public:
  LosslessCompressor(std::shared_ptr<const Compressor> inner, LosslessMode mode, const PackedLevels& layout)
      : inner_(std::move(inner)), mode_(mode), layout_(layout) {
    const std::string& s = inner_->spec();
    spec_ = s + (s.find(':') == std::string::npos ? ":" : ",") + "lossless=" + lossless_mode_name(mode);
  }

  uint16_t id() const override {
    return static_cast<uint16_t>(0x8000u | static_cast<unsigned>(mode_) << 8 | (inner_->id() & 0xffu));
  }
  const std::string& spec() const override { return spec_; }
  CompressorTraits traits() const override {
    CompressorTraits t = inner_->traits();
    t.fixed_size = false;
    return t;
  }
  size_t encoded_bytes(size_t n) const override { return kPrefix + inner_->encoded_bytes(n); }

  size_t payload_extent(const uint8_t* in, size_t avail, size_t n) const override {
    GW_REQUIRE(avail >= kPrefix, GW_ERR_CORRUPT, spec_, ": payload for ", n, " values is truncated (", avail,
               " bytes, less than its ", kPrefix, "-byte length prefix)");
    const uint32_t body = word(in) & ~kStored;
    GW_REQUIRE(body <= avail - kPrefix, GW_ERR_CORRUPT, spec_, ": payload for ", n, " values announces ", body,
               " bytes, ", avail - kPrefix, " remain in the message");
    return kPrefix + body;
  }

  size_t encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key, bool* nonfinite) const override {
    const size_t inner_bytes = inner_->encoded_bytes(n);
    GW_REQUIRE(inner_bytes <= kMaxBody, GW_ERR_INVALID_ARGUMENT, spec_, ": ", n,
               " values in one encode is more than the lossless stage's 2 GiB per payload");
    uint8_t* raw = scratch(inner_bytes);
    const size_t wrote = inner_->encode(x, n, raw, rng_key, nonfinite);
    GW_REQUIRE(wrote == inner_bytes, GW_ERR_INTERNAL, spec_, ": inner codec wrote ", wrote, " bytes, expected ",
               inner_bytes);
    size_t body = 0;
    if (mode_ == LosslessMode::kElias) {
      body = lossless::elias_code(layout_, raw, n, out + kPrefix, inner_bytes);
    } else {
#ifdef GW_HAVE_ZSTD
      const size_t z = ZSTD_compressCCtx(zstd_contexts().c, out + kPrefix, inner_bytes, raw, inner_bytes, kZstdLevel);
      if (!ZSTD_isError(z)) body = z;  // too small a destination: stored below
#endif
    }
    uint32_t w = static_cast<uint32_t>(body);
    if (body == 0 || body >= inner_bytes) {  // no gain: store the inner payload
      if (inner_bytes) std::memcpy(out + kPrefix, raw, inner_bytes);
      body = inner_bytes;
      w = static_cast<uint32_t>(body) | kStored;
    }
    std::memcpy(out, &w, kPrefix);
    return kPrefix + body;
  }

  void decode(const uint8_t* in, size_t bytes, size_t n, float* out) const override {
    decode_into(in, bytes, n, out, false);
  }
  void decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const override {
    decode_into(in, bytes, n, acc, true);
  }

 private:
  static uint32_t word(const uint8_t* in) {
    uint32_t w;
    std::memcpy(&w, in, kPrefix);
    return w;
  }

  void decode_into(const uint8_t* in, size_t bytes, size_t n, float* out, bool add) const {
    const size_t extent = payload_extent(in, bytes, n);
    GW_REQUIRE(extent == bytes, GW_ERR_CORRUPT, spec_, ": payload of ", bytes, " bytes for ", n, " values announces ",
               extent);
    const size_t inner_bytes = inner_->encoded_bytes(n);
    const size_t body = bytes - kPrefix;
    const uint8_t* src = in + kPrefix;
    if (word(in) & kStored) {
      GW_REQUIRE(body == inner_bytes, GW_ERR_CORRUPT, spec_, ": stored payload of ", body, " bytes for ", n,
                 " values (want ", inner_bytes, ")");
    } else {
      uint8_t* raw = scratch(inner_bytes);
      if (mode_ == LosslessMode::kElias) {
        lossless::elias_decode(layout_, src, body, n, raw, spec_);
      } else {
#ifdef GW_HAVE_ZSTD
        const size_t got = ZSTD_decompressDCtx(zstd_contexts().d, raw, inner_bytes, src, body);
        GW_REQUIRE(!ZSTD_isError(got), GW_ERR_CORRUPT, spec_, ": zstd payload for ", n, " values is damaged (",
                   ZSTD_getErrorName(got), ")");
        GW_REQUIRE(got == inner_bytes, GW_ERR_CORRUPT, spec_, ": zstd payload for ", n, " values holds ", got,
                   " bytes (want ", inner_bytes, ")");
#else
        fail(GW_ERR_UNSUPPORTED, spec_, ": gradwire was built without libzstd");
#endif
      }
      src = raw;
    }
    if (add)
      inner_->decode_add(src, inner_bytes, n, out);
    else
      inner_->decode(src, inner_bytes, n, out);
  }

  std::shared_ptr<const Compressor> inner_;
  LosslessMode mode_;
  PackedLevels layout_;
  std::string spec_;
};

}  // namespace

bool lossless_zstd_available() {
#ifdef GW_HAVE_ZSTD
  return true;
#else
  return false;
#endif
}

std::shared_ptr<const Compressor> make_lossless(std::shared_ptr<const Compressor> inner, LosslessMode mode) {
  if (mode == LosslessMode::kNone) return inner;
  PackedLevels L;
  GW_REQUIRE(inner->packed_levels(&L), GW_ERR_INVALID_ARGUMENT, "key 'lossless' is not supported by '", inner->spec(),
             "' (only by the bucket quantizers maxmin, qsgd, nuq)");
  GW_REQUIRE(L.bits >= 1 && L.bits <= 8 && L.bucket >= 1 && L.bucket <= 8192 && L.max_level < (1u << L.bits),
             GW_ERR_INTERNAL, inner->spec(), ": packed_levels() describes an unsupported layout");
  GW_REQUIRE(mode != LosslessMode::kZstd || lossless_zstd_available(), GW_ERR_UNSUPPORTED, "lossless=zstd in '",
             inner->spec(), "': gradwire was built without libzstd (install libzstd-dev and rebuild)");
  return std::make_shared<LosslessCompressor>(std::move(inner), mode, L);
}

}  // namespace gw
