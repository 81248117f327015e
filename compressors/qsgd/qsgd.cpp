#include "compressors/qsgd/qsgd.h"

#include <algorithm>
#include <memory>

#include "src/common/cpu_features.h"
#include "src/common/error.h"
#include "compressors/qsgd/qsgd_kernels.h"
#include "src/spec/registry.h"

namespace gw {
namespace qsgd {

namespace {

template <int K>
bool encode_scalar_t(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  const size_t nb = L.num_buckets(n);
  uint8_t* codes_base = out + 4 * nb;
  uint8_t lv[8192];
  bool any_bad = false;
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    const float* v = x + i0;
    float amax = 0.0f;
    bool bad = false;
    for (size_t k = 0; k < len; ++k) {
      bad |= !((v[k] - v[k]) == 0.0f);
      const float a = std::fabs(v[k]);
      amax = a > amax ? a : amax;
    }
    float raw = amax;
    if (!bad && K != QSGD_MAX) {
      const int e = amax_exponent(amax);
      const double P = sumsq_factor(e);
      uint64_t sum = 0;
      for (size_t k = 0; k < len; ++k) sum += sumsq_term(v[k], P);
      raw = l2_from_sum(sum - len * kMagicBits, e);
    }
    const BucketParams p = bucket_params(static_cast<Kind>(K), raw, bad, L.s);
    memcpy(out + 4 * j, &p.scale, 4);
    uint8_t* dst = codes_base + j * L.packed_bucket;
    if (bad) {
      any_bad = true;
      memset(dst, 0, L.packed_bytes(len));
      continue;
    }
    quantize_codes_scalar<K>(v, len, p, L, key, static_cast<uint32_t>(i0), dst, lv);
  }
  return any_bad;
}

template <int K>
void decode_scalar_t(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  const size_t nb = L.num_buckets(n);
  const uint8_t* codes_base = in + 4 * nb;
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    float scale;
    memcpy(&scale, in + 4 * j, 4);
    const BucketParams p = decode_params(scale, L.s);
    const uint8_t* src = codes_base + j * L.packed_bucket;
    float* o = out + i0;
    for (size_t k = 0; k < len; ++k) {
      const float val = dequantize_one<K>(bitpack::code_at(src, k, L.bits), p, L.s, L.bits);
      o[k] = add ? o[k] + val : val;
    }
  }
}

}  // namespace

bool encode_scalar(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  switch (L.kind) {
    case QSGD_MAX:
      return encode_scalar_t<QSGD_MAX>(L, x, n, out, key);
    case NUQ:
      return encode_scalar_t<NUQ>(L, x, n, out, key);
    default:
      return encode_scalar_t<QSGD_L2>(L, x, n, out, key);
  }
}

void decode_scalar(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  if (L.kind == NUQ)
    decode_scalar_t<NUQ>(L, in, n, out, add);
  else
    decode_scalar_t<QSGD_L2>(L, in, n, out, add);  // qsgd decodes the same for both norms
}

bool encode(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  if (n == 0) return false;
#if GW_QSGD_X86
  switch (cpu_isa()) {
    case CpuIsa::AVX512:
      return encode_avx512(L, x, n, out, key);
    case CpuIsa::AVX2:
      return encode_avx2(L, x, n, out, key);
    default:
      return encode_scalar(L, x, n, out, key);
  }
#else
  return encode_scalar(L, x, n, out, key);
#endif
}

void decode(const Layout& L, const char* spec, const uint8_t* in, size_t bytes, size_t n, float* out, bool add) {
  const size_t want = L.total_bytes(n);
  GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, spec, ": payload of ", bytes, " bytes for ", n, " values (want ", want,
             ")");
  if (n == 0) return;
#if GW_QSGD_X86
  switch (cpu_isa()) {
    case CpuIsa::AVX512:
      return decode_avx512(L, in, n, out, add);
    case CpuIsa::AVX2:
      return decode_avx2(L, in, n, out, add);
    default:
      return decode_scalar(L, in, n, out, add);
  }
#else
  decode_scalar(L, in, n, out, add);
#endif
}

}  // namespace qsgd

QsgdEngineCompressor::QsgdEngineCompressor(uint16_t id, const char* family, int levels_kind, int bits, int bucket,
                                           std::string spec)
    : id_(id), kind_(levels_kind), bits_(bits), bucket_(bucket), spec_(std::move(spec)) {
  GW_REQUIRE(bits >= 2 && bits <= 8, GW_ERR_INVALID_ARGUMENT, family, ": bits=", bits,
             " is outside [2, 8] (bits include the sign)");
  GW_REQUIRE(bucket >= 64 && bucket <= 8192, GW_ERR_INVALID_ARGUMENT, family, ": bucket=", bucket,
             " is outside [64, 8192]");
}

CompressorTraits QsgdEngineCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.linear = false;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  return t;
}

namespace {
qsgd::Layout layout_of(int kind, int bits, int bucket) {
  return qsgd::make_layout(static_cast<qsgd::Kind>(kind), bits, bucket);
}
}  // namespace

bool QsgdEngineCompressor::packed_levels(PackedLevels* out) const {
  out->bits = bits_;
  out->bucket = static_cast<size_t>(bucket_);
  out->scale_bytes = 4;
  out->sign_magnitude = true;
  out->max_level = (1u << (bits_ - 1)) - 1u;
  return true;
}

size_t QsgdEngineCompressor::encoded_bytes(size_t n) const { return layout_of(kind_, bits_, bucket_).total_bytes(n); }

size_t QsgdEngineCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key,
                                    bool* nonfinite) const {
  const qsgd::Layout L = layout_of(kind_, bits_, bucket_);
  if (qsgd::encode(L, x, n, out, rng_key) && nonfinite) *nonfinite = true;
  return L.total_bytes(n);
}

void QsgdEngineCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  qsgd::decode(layout_of(kind_, bits_, bucket_), spec_.c_str(), in, bytes, n, out, false);
}

void QsgdEngineCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  qsgd::decode(layout_of(kind_, bits_, bucket_), spec_.c_str(), in, bytes, n, acc, true);
}

QsgdCompressor::QsgdCompressor(QsgdParams p)
    : QsgdEngineCompressor(kQsgdCompressorId, "qsgd", p.norm == QsgdNorm::MAX ? qsgd::QSGD_MAX : qsgd::QSGD_L2,
                           p.bits, p.bucket,
                           "qsgd:bits=" + std::to_string(p.bits) + ",bucket=" + std::to_string(p.bucket) +
                               ",norm=" + (p.norm == QsgdNorm::MAX ? "max" : "l2")),
      p_(p) {}

void register_qsgd(Registry& r) {
  r.add("qsgd", [](SpecReader& s) -> std::unique_ptr<Compressor> {
    QsgdParams p;
    p.bits = static_cast<int>(s.get_int("bits", 4, 2, 8));
    p.bucket = static_cast<int>(s.get_int("bucket", 512, 64, 8192));
    p.norm = s.get_choice("norm", "l2", {"l2", "max"}) == "max" ? QsgdNorm::MAX : QsgdNorm::L2;
    return std::make_unique<QsgdCompressor>(p);
  });
}

}  // namespace gw
