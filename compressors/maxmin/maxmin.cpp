#include "compressors/maxmin/maxmin.h"

#include <algorithm>
#include <memory>

#include "src/common/cpu_features.h"
#include "src/common/error.h"
#include "compressors/maxmin/maxmin_kernels.h"
#include "src/spec/registry.h"

namespace gw {
namespace maxmin {

namespace {
inline void put_f32(uint8_t* p, float v) { memcpy(p, &v, 4); }
inline float get_f32(const uint8_t* p) {
  float v;
  memcpy(&v, p, 4);
  return v;
}
}  // namespace

bool encode_scalar(const Layout& L, const float* x, size_t n, uint8_t* out, uint64_t key) {
  const size_t nb = L.num_buckets(n);
  uint8_t* levels_base = out + 8 * nb;
  const float levels_f = static_cast<float>(L.levels);
  uint8_t lv[8192];
  bool any_bad = false;
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    const float* v = x + i0;
    float mn = v[0], mx = v[0];
    bool bad = false;
    for (size_t k = 0; k < len; ++k) {
      bad |= (v[k] - v[k]) != 0.0f || v[k] != v[k];
      mn = v[k] < mn ? v[k] : mn;
      mx = v[k] > mx ? v[k] : mx;
    }
    BucketParams p = bucket_params(mn, mx, bad, L.levels);
    put_f32(out + 8 * j, p.min);
    put_f32(out + 8 * j + 4, p.scale);
    uint8_t* dst = levels_base + j * L.packed_bucket;
    if (bad) {
      any_bad = true;
      memset(dst, 0, L.packed_bytes(len));
      continue;
    }
    for (size_t k = 0; k < len; ++k)
      lv[k] = static_cast<uint8_t>(quantize_one(v[k], p, levels_f, key, static_cast<uint32_t>(i0 + k)));
    bitpack::pack(lv, len, L.bits, dst);
  }
  return any_bad;
}

void decode_scalar(const Layout& L, const uint8_t* in, size_t n, float* out, bool add) {
  const size_t nb = L.num_buckets(n);
  const uint8_t* levels_base = in + 8 * nb;
  for (size_t j = 0; j < nb; ++j) {
    const size_t i0 = j * L.bucket;
    const size_t len = std::min(L.bucket, n - i0);
    BucketParams p;
    p.min = get_f32(in + 8 * j);
    p.scale = get_f32(in + 8 * j + 4);
    p.inv = 0.0f;
    const uint8_t* src = levels_base + j * L.packed_bucket;
    float* o = out + i0;
    for (size_t k = 0; k < len; ++k) {
      float val = dequantize_one(bitpack::code_at(src, k, L.bits), p);
      o[k] = add ? o[k] + val : val;
    }
  }
}

}  // namespace maxmin

namespace {
maxmin::Layout layout_of(const MaxMinParams& p) {
  maxmin::Layout L;
  L.bits = p.bits;
  L.bucket = static_cast<size_t>(p.bucket);
  L.levels = (1u << p.bits) - 1u;
  L.packed_bucket = L.packed_bytes(L.bucket);
  return L;
}
}  // namespace

MaxMinCompressor::MaxMinCompressor(MaxMinParams p) : p_(p) {
  GW_REQUIRE(p.bits >= 1 && p.bits <= 8, GW_ERR_INVALID_ARGUMENT, "maxmin: bits=", p.bits, " is outside [1, 8]");
  GW_REQUIRE(p.bucket >= 64 && p.bucket <= 8192, GW_ERR_INVALID_ARGUMENT, "maxmin: bucket=", p.bucket,
             " is outside [64, 8192]");
  spec_ = "maxmin:bits=" + std::to_string(p.bits) + ",bucket=" + std::to_string(p.bucket);
}

CompressorTraits MaxMinCompressor::traits() const {
  CompressorTraits t;
  t.unbiased = true;
  t.linear = false;
  t.needs_error_feedback = false;
  t.fixed_size = true;
  return t;
}

bool MaxMinCompressor::packed_levels(PackedLevels* out) const {
  out->bits = p_.bits;
  out->bucket = static_cast<size_t>(p_.bucket);
  out->scale_bytes = 8;
  out->sign_magnitude = false;
  out->max_level = (1u << p_.bits) - 1u;
  return true;
}

size_t MaxMinCompressor::encoded_bytes(size_t n) const { return layout_of(p_).total_bytes(n); }

size_t MaxMinCompressor::encode(const float* x, size_t n, uint8_t* out, uint64_t rng_key,
                                bool* nonfinite) const {
  const maxmin::Layout L = layout_of(p_);
  if (n == 0) return 0;
  bool bad;
#if GW_MAXMIN_X86
  switch (cpu_isa()) {
    case CpuIsa::AVX512:
      bad = maxmin::encode_avx512(L, x, n, out, rng_key);
      break;
    case CpuIsa::AVX2:
      bad = maxmin::encode_avx2(L, x, n, out, rng_key);
      break;
    default:
      bad = maxmin::encode_scalar(L, x, n, out, rng_key);
  }
#else
  bad = maxmin::encode_scalar(L, x, n, out, rng_key);
#endif
  if (nonfinite && bad) *nonfinite = true;
  return L.total_bytes(n);
}

namespace {
void decode_impl(const MaxMinParams& params, const uint8_t* in, size_t bytes, size_t n, float* out, bool add) {
  const maxmin::Layout L = layout_of(params);
  const size_t want = L.total_bytes(n);
  GW_REQUIRE(bytes == want, GW_ERR_CORRUPT, "maxmin: payload of ", bytes, " bytes for ", n, " values (want ",
             want, " for bits=", params.bits, ",bucket=", params.bucket, ")");
  if (n == 0) return;
#if GW_MAXMIN_X86
  switch (cpu_isa()) {
    case CpuIsa::AVX512:
      return maxmin::decode_avx512(L, in, n, out, add);
    case CpuIsa::AVX2:
      return maxmin::decode_avx2(L, in, n, out, add);
    default:
      return maxmin::decode_scalar(L, in, n, out, add);
  }
#else
  maxmin::decode_scalar(L, in, n, out, add);
#endif
}
}  // namespace

void MaxMinCompressor::decode(const uint8_t* in, size_t bytes, size_t n, float* out) const {
  decode_impl(p_, in, bytes, n, out, false);
}

void MaxMinCompressor::decode_add(const uint8_t* in, size_t bytes, size_t n, float* acc) const {
  decode_impl(p_, in, bytes, n, acc, true);
}

void register_maxmin(Registry& r) {
  r.add("maxmin", [](SpecReader& s) -> std::unique_ptr<Compressor> {
    MaxMinParams p;
    p.bits = static_cast<int>(s.get_int("bits", 4, 1, 8));
    p.bucket = static_cast<int>(s.get_int("bucket", 512, 64, 8192));
    return std::make_unique<MaxMinCompressor>(p);
  });
}

}  // namespace gw
