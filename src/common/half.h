// fp32 <-> fp16 (IEEE binary16) and fp32 <-> bf16 conversions.
//
// Scalar conversions are header-only (GW_HOST_DEVICE, usable from CUDA). The
// array functions pick an F16C/AVX2 or AVX-512 path at run time (cpu_isa());
// every path gives exactly the bits of the scalar functions:
//   float -> half: round to nearest even; overflow (|x| >= 65520) -> +-Inf;
//                  subnormal halves produced exactly; NaN -> quiet NaN with the top
//                  10 payload bits kept (sign | 0x7e00 | payload >> 13), like F16C.
//   half -> float: exact; a NaN comes back quiet (sign | 0x7fc00000 | payload << 13).
//   float -> bf16: round to nearest even (large finite values may round to Inf);
//                  NaN -> quiet NaN (upper 16 bits | 0x0040), never Inf.
//   bf16 -> float: exact (bits << 16).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "src/common/rng.h"  // GW_HOST_DEVICE

namespace gw {

GW_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
GW_HOST_DEVICE inline float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

GW_HOST_DEVICE inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // Inf or NaN
    if (ax == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to Inf
  if (ax >= 0x38800000u) {  // normal half: rebias the exponent, round 13 bits away
    uint32_t r = ax - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // Subnormal half (or zero): value / 2^-24 rounded to nearest even.
  const uint32_t e = ax >> 23;
  const uint32_t shift = 126u - e;  // >= 14 here
  if (shift > 24u) return static_cast<uint16_t>(sign);
  const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

GW_HOST_DEVICE inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0x1fu) return bits_float(sign | 0x7f800000u | (m ? (0x400000u | (m << 13)) : 0u));
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float
    return bits_float(sign | float_bits(static_cast<float>(m) * 5.9604644775390625e-8f));
  }
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

GW_HOST_DEVICE inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

GW_HOST_DEVICE inline float bf16_bits_to_float(uint16_t b) {
  return bits_float(static_cast<uint32_t>(b) << 16);
}

GW_HOST_DEVICE inline bool is_nonfinite(float f) { return (float_bits(f) & 0x7f800000u) == 0x7f800000u; }

// Array conversions (runtime-dispatched; identical bits on every path).
void float_to_half(const float* in, uint16_t* out, size_t n);
void half_to_float(const uint16_t* in, float* out, size_t n);
void float_to_bf16(const float* in, uint16_t* out, size_t n);
void bf16_to_float(const uint16_t* in, float* out, size_t n);

// Encode variants that also report whether any input was NaN or +-Inf.
bool float_to_half_check(const float* in, uint16_t* out, size_t n);
bool float_to_bf16_check(const float* in, uint16_t* out, size_t n);
// acc[i] += converted in[i] (the decode_add of the fp16 / bf16 codecs).
void half_to_float_add(const uint16_t* in, float* acc, size_t n);
void bf16_to_float_add(const uint16_t* in, float* acc, size_t n);

}  // namespace gw
