#include "src/wire/checksum.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gw {
namespace {

struct Table {
  uint32_t t[8][256];
  Table() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};

uint32_t crc32c_table(const unsigned char* p, size_t n, uint32_t crc) {
  static const Table tab;
  crc = ~crc;
  while (n >= 8) {  // slicing-by-8
    uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = tab.t[7][v & 0xff] ^ tab.t[6][(v >> 8) & 0xff] ^ tab.t[5][(v >> 16) & 0xff] ^
          tab.t[4][(v >> 24) & 0xff] ^ tab.t[3][(v >> 32) & 0xff] ^ tab.t[2][(v >> 40) & 0xff] ^
          tab.t[1][(v >> 48) & 0xff] ^ tab.t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ tab.t[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

// The CRC of A||B from crc(A), crc(B) and |B| (zlib 1.2.12's crc32_combine,
// for the Castagnoli polynomial): crc(A) times x^(8|B|) mod P, plus crc(B).
// The power comes from a table of x^(2^k) mod P, a few dozen shift-xors per
// set bit of |B| (the earlier matrix-squaring combine cost ~10 us a call,
// more than the CRC of a 16 KiB message itself).
constexpr uint32_t kPoly = 0x82F63B78u;  // reflected
uint32_t mult_mod_p(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}
struct PowersOfX {
  uint32_t x2n[32];  // x^(2^k) mod P
  PowersOfX() {
    uint32_t p = 1u << 30;  // x^1
    x2n[0] = p;
    for (int k = 1; k < 32; ++k) x2n[k] = p = mult_mod_p(p, p);
  }
};
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) {
  static const PowersOfX pw;
  uint32_t p = 1u << 31;  // x^0
  for (unsigned k = 3; len2; len2 >>= 1, ++k)  // x^(8 len2) = product of x^(2^k) over its bits
    if (len2 & 1) p = mult_mod_p(pw.x2n[k & 31], p);
  return mult_mod_p(p, crc1) ^ crc2;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_hw_stream(const unsigned char* p, size_t n, uint32_t crc) {
  uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: three
// independent streams over the thirds of a long buffer run about 3x faster
// than one, and their CRCs are joined with crc32c_combine (cheap, once).
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(const unsigned char* p, size_t n, uint32_t crc) {
  if (n < 3 * 4096) return crc32c_hw_stream(p, n, crc);
  const size_t third = (n / 3) & ~static_cast<size_t>(7);
  const unsigned char* b = p + third;
  const unsigned char* c = p + 2 * third;
  uint64_t ca = ~crc, cb = ~0u, cc = ~0u;
  for (size_t k = 0; k < third; k += 8) {
    uint64_t va, vb, vc;
    std::memcpy(&va, p + k, 8);
    std::memcpy(&vb, b + k, 8);
    std::memcpy(&vc, c + k, 8);
    ca = _mm_crc32_u64(ca, va);
    cb = _mm_crc32_u64(cb, vb);
    cc = _mm_crc32_u64(cc, vc);
  }
  uint32_t crc_a = ~static_cast<uint32_t>(ca), crc_b = ~static_cast<uint32_t>(cb);
  uint32_t crc_c = crc32c_hw_stream(c + third, n - 3 * third, ~static_cast<uint32_t>(cc));
  return crc32c_combine(crc32c_combine(crc_a, crc_b, third), crc_c, n - 2 * third);
}
#endif

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return crc32c_hw(p, n, crc);
#endif
  return crc32c_table(p, n, crc);
}

}  // namespace gw
