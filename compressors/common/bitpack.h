// LSB-first packing of B-bit codes (1 <= B <= 8), the payload format shared by
// the bucket quantizers (maxmin, qsgd, nuq): code k of a packed run sits at bit
// k*B, little-endian across bytes, ceil(len*B/8) bytes for len codes. The scalar
// reference here; bitpack_avx2.h / bitpack_avx512.h are the SIMD forms and
// bitpack.cuh the device side. Only mechanics: what a code means is each codec's.
// Header-only: compressors/*/*.cpp globbing finds nothing to build here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace gw {
namespace bitpack {

// Packs len byte-codes lv[0..len) into ceil(len*bits/8) bytes at out.
inline void pack(const uint8_t* lv, size_t len, int bits, uint8_t* out) {
  uint32_t acc = 0;
  int have = 0;
  for (size_t k = 0; k < len; ++k) {
    acc |= static_cast<uint32_t>(lv[k]) << have;
    have += bits;
    while (have >= 8) {
      *out++ = static_cast<uint8_t>(acc);
      acc >>= 8;
      have -= 8;
    }
  }
  if (have > 0) *out = static_cast<uint8_t>(acc);
}

// Code k of a packed run (reads only the bytes that hold it).
inline uint32_t code_at(const uint8_t* packed, size_t k, int bits) {
  size_t bit = k * static_cast<size_t>(bits);
  size_t byte = bit >> 3;
  unsigned shift = static_cast<unsigned>(bit & 7);
  uint32_t v = packed[byte] >> shift;
  if (shift + static_cast<unsigned>(bits) > 8) v |= static_cast<uint32_t>(packed[byte + 1]) << (8 - shift);
  return v & ((1u << bits) - 1u);
}

// Unpacks codes [0, len) of a packed run into bytes lv[0..len).
inline void unpack(const uint8_t* packed, size_t len, int bits, uint8_t* lv) {
  for (size_t k = 0; k < len; ++k) lv[k] = static_cast<uint8_t>(code_at(packed, k, bits));
}

// The bit widths the SIMD unpackers (bitpack_avx2.h, bitpack_avx512.h) handle in
// registers; 0 stands for every other width (unpacked to bytes first). Calls
// f(std::integral_constant<int, B>{}) for the B of `bits`. A codec whose widths
// start at kMinBits = 2 leaves out the 1-bit instantiation (1 would take B = 0).
template <int kMinBits = 1, class F>
inline decltype(auto) with_unpack_width(int bits, F&& f) {
  switch (bits) {
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 1:
      if constexpr (kMinBits <= 1) return f(std::integral_constant<int, 1>{});
      [[fallthrough]];
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

// Where the SIMD unpackers of width B read byte k: the packed run itself, or (B =
// 0) lv, into which the len codes are unpacked here first.
template <int B>
inline const uint8_t* unpack_source(const uint8_t* packed, size_t len, int bits, uint8_t* lv) {
  if (B != 0) return packed;
  unpack(packed, len, bits, lv);
  return lv;
}

}  // namespace bitpack
}  // namespace gw
