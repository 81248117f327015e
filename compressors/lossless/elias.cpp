#include "compressors/lossless/elias.h"

#include <algorithm>
#include <cstring>

#include "compressors/common/bitpack.h"
#include "src/common/error.h"

namespace gw {
namespace lossless {
namespace {

size_t packed_bucket(const PackedLevels& L, size_t len) { return (len * static_cast<size_t>(L.bits) + 7) / 8; }
size_t num_buckets(const PackedLevels& L, size_t n) { return (n + L.bucket - 1) / L.bucket; }

// Rank of every level around center c and its inverse (see elias.h).
void rank_tables(uint32_t c, uint32_t L, uint16_t* rank_of, uint16_t* level_of) {
  const uint32_t m = std::min(c, L - c);  // levels on the shorter side
  for (uint32_t l = 0; l <= L; ++l) {
    const uint32_t d = l >= c ? l - c : c - l;
    uint32_t r;
    if (d <= m)
      r = d == 0 ? 0 : (l > c ? 2 * d - 1 : 2 * d);
    else
      r = m + d;
    rank_of[l] = static_cast<uint16_t>(r);
    level_of[r] = static_cast<uint16_t>(l);
  }
}

class BitWriter {
 public:
  BitWriter(uint8_t* out, size_t cap) : out_(out), cap_(cap) {}
  // len <= 32 bits; false once the output would pass cap.
  bool put(uint64_t v, int len) {
    acc_ |= v << nbits_;
    nbits_ += len;
    if (nbits_ >= 32) {
      if (pos_ + 4 > cap_) return false;
      const uint32_t w = static_cast<uint32_t>(acc_);
      std::memcpy(out_ + pos_, &w, 4);  // little-endian hosts (as the whole wire format)
      pos_ += 4;
      acc_ >>= 32;
      nbits_ -= 32;
    }
    return true;
  }
  // Bytes written in all, or 0 when they do not fit.
  size_t finish() {
    while (nbits_ > 0) {
      if (pos_ >= cap_) return 0;
      out_[pos_++] = static_cast<uint8_t>(acc_);
      acc_ >>= 8;
      nbits_ = nbits_ > 8 ? nbits_ - 8 : 0;
    }
    return pos_;
  }

 private:
  uint8_t* out_;
  size_t cap_, pos_ = 0;
  uint64_t acc_ = 0;
  int nbits_ = 0;
};

// Reads past the end as zero bits; consumed() tells whether it went there.
class BitReader {
 public:
  BitReader(const uint8_t* in, size_t size) : in_(in), size_(size) {}
  void refill() {
    if (pos_ + 8 <= size_) {
      uint64_t w;
      std::memcpy(&w, in_ + pos_, 8);
      acc_ |= w << nbits_;
      pos_ += (63 - nbits_) >> 3;
      nbits_ |= 56;
    } else {
      while (nbits_ <= 56) {
        const uint64_t b = pos_ < size_ ? in_[pos_] : 0;
        acc_ |= b << nbits_;
        ++pos_;
        nbits_ += 8;
      }
    }
  }
  uint64_t peek() const { return acc_; }
  void skip(int len) {
    acc_ >>= len;
    nbits_ -= len;
  }
  size_t consumed_bits() const { return pos_ * 8 - static_cast<size_t>(nbits_); }

 private:
  const uint8_t* in_;
  size_t size_, pos_ = 0;
  uint64_t acc_ = 0;
  int nbits_ = 0;
};

inline int floor_log2(uint32_t x) { return 31 - __builtin_clz(x); }

}  // namespace

size_t packed_bytes(const PackedLevels& L, size_t n) {
  const size_t nb = num_buckets(L, n);
  const size_t full = n / L.bucket;
  return nb * L.scale_bytes + full * packed_bucket(L, L.bucket) + packed_bucket(L, n % L.bucket);
}

size_t elias_code(const PackedLevels& L, const uint8_t* in, size_t n, uint8_t* out, size_t cap) {
  const size_t nb = num_buckets(L, n);
  const size_t head = nb * L.scale_bytes;
  if (head + nb > cap) return 0;
  if (head) std::memcpy(out, in, head);
  uint8_t* centers = out + head;
  BitWriter w(out + head + nb, cap - head - nb);
  const uint32_t mag_mask = L.sign_magnitude ? (1u << (L.bits - 1)) - 1u : (1u << L.bits) - 1u;
  const int sign_shift = L.bits - 1;
  const size_t P = packed_bucket(L, L.bucket);
  uint8_t lv[8192];
  uint32_t hist[256];
  uint16_t rank_of[256], level_of[256];
  for (size_t j = 0; j < nb; ++j) {
    const size_t len = std::min(L.bucket, n - j * L.bucket);
    bitpack::unpack(in + head + j * P, len, L.bits, lv);
    std::memset(hist, 0, sizeof(hist));
    for (size_t k = 0; k < len; ++k) ++hist[lv[k] & mag_mask];
    uint32_t c = 0;
    for (uint32_t l = 1; l <= mag_mask; ++l)
      if (hist[l] > hist[c]) c = l;
    for (uint32_t l = L.max_level + 1; l <= mag_mask; ++l)
      if (hist[l]) return 0;  // not a level of this layout: store the payload
    centers[j] = static_cast<uint8_t>(c);
    rank_tables(c, L.max_level, rank_of, level_of);
    for (size_t k = 0; k < len; ++k) {
      const uint32_t l = lv[k] & mag_mask;
      const uint32_t x = rank_of[l] + 1u;
      const int N = floor_log2(x);
      uint64_t code = (1ull << N) | (static_cast<uint64_t>(x ^ (1u << N)) << (N + 1));
      int bits = 2 * N + 1;
      if (L.sign_magnitude) {
        const uint32_t s = lv[k] >> sign_shift;
        if (l == 0 && s) return 0;  // a negative zero level is not representable
        if (l != 0) code |= static_cast<uint64_t>(s) << bits++;
      }
      if (!w.put(code, bits)) return 0;
    }
  }
  const size_t stream = w.finish();
  if (stream == 0 && n != 0) return 0;
  return head + nb + stream;
}

void elias_decode(const PackedLevels& L, const uint8_t* in, size_t bytes, size_t n, uint8_t* out,
                  const std::string& what) {
  const size_t nb = num_buckets(L, n);
  const size_t head = nb * L.scale_bytes;
  GW_REQUIRE(bytes >= head + nb, GW_ERR_CORRUPT, what, ": elias body of ", bytes, " bytes is shorter than the ",
             head + nb, " bytes of scales and centers of ", n, " values");
  if (head) std::memcpy(out, in, head);
  const uint8_t* centers = in + head;
  BitReader r(in + head + nb, bytes - head - nb);
  const int max_n = floor_log2(L.max_level + 1);  // the longest gamma code's N
  const int sign_shift = L.bits - 1;
  const size_t P = packed_bucket(L, L.bucket);
  uint8_t lv[8192];
  uint16_t rank_of[256], level_of[256];
  for (size_t j = 0; j < nb; ++j) {
    const size_t len = std::min(L.bucket, n - j * L.bucket);
    const uint32_t c = centers[j];
    GW_REQUIRE(c <= L.max_level, GW_ERR_CORRUPT, what, ": bucket ", j, " has center level ", c, " (max ", L.max_level,
               ")");
    rank_tables(c, L.max_level, rank_of, level_of);
    for (size_t k = 0; k < len; ++k) {
      r.refill();  // >= 56 bits: one code (<= 2*8+1) and its sign
      const uint64_t a = r.peek();
      const int N = a == 0 ? 64 : __builtin_ctzll(a);
      GW_REQUIRE(N <= max_n, GW_ERR_CORRUPT, what, ": bad Elias-gamma code at value ", j * L.bucket + k,
                 " (damaged or truncated payload)");
      const uint32_t x = (1u << N) | static_cast<uint32_t>((a >> (N + 1)) & ((1u << N) - 1u));
      r.skip(2 * N + 1);
      GW_REQUIRE(x - 1 <= L.max_level, GW_ERR_CORRUPT, what, ": level rank ", x - 1, " at value ", j * L.bucket + k,
                 " is past the top level ", L.max_level);
      uint32_t code = level_of[x - 1];
      if (L.sign_magnitude && code != 0) {
        code |= static_cast<uint32_t>(r.peek() & 1u) << sign_shift;
        r.skip(1);
      }
      lv[k] = static_cast<uint8_t>(code);
    }
    bitpack::pack(lv, len, L.bits, out + head + j * P);
  }
  const size_t used = (r.consumed_bits() + 7) / 8;
  GW_REQUIRE(used == bytes - head - nb, GW_ERR_CORRUPT, what, ": elias bit stream is ", bytes - head - nb,
             " bytes but its codes take ", used, " (damaged or truncated payload)");
}

}  // namespace lossless
}  // namespace gw
