// Field-by-field writing and bounds-checked reading of a state record
// (src/scheme/state_record.h): every value little-endian, one by one (no
// struct images), and a read past the end is GW_ERR_CORRUPT naming the field,
// never an out-of-bounds access (the bytes are untrusted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "src/common/error.h"

namespace gw {

class RecordWriter {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts (see none.h)
    out.insert(out.end(), b, b + sizeof(T));
  }
  void bytes(const void* p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
  std::vector<uint8_t> out;
};

class RecordReader {
 public:
  RecordReader(const uint8_t* p, size_t n, const std::string& layer) : p_(p), n_(n), layer_(layer) {}
  template <typename T>
  T get(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  const uint8_t* take(size_t n, const char* field) {
    need(n, field);
    const uint8_t* p = p_ + at_;
    at_ += n;
    return p;
  }
  size_t at() const { return at_; }
  size_t left() const { return n_ - at_; }
  const std::string& layer() const { return layer_; }

 private:
  void need(size_t n, const char* field) {
    GW_REQUIRE(n <= n_ - at_, GW_ERR_CORRUPT, "state for layer '", layer_, "' is cut short at its ", field, " (",
               n_, " bytes)");
  }
  const uint8_t* p_;
  size_t n_, at_ = 0;
  const std::string& layer_;
};

}  // namespace gw
