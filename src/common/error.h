// Internal error type. Inside the library failures are gw::Error exceptions
// carrying a gw_status and a message that names the cause (and the peer rank
// where a peer is at fault); src/api/ is the only place they become status codes.
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "gradwire/gradwire.h"

namespace gw {

class Error : public std::runtime_error {
 public:
  Error(gw_status status, const std::string& what) : std::runtime_error(what), status_(status) {}
  gw_status status() const { return status_; }

 private:
  gw_status status_;
};

namespace detail {
// One piece of a message. Formatting happens out of line (error.cpp), so no
// translation unit instantiates iostream templates of its own: nvcc's front
// end did, for the CUDA files, and the exported copies of libstdc++ internals
// crashed the library inside a process that had loaded PyTorch first.
class Part {
 public:
  Part(const char* s) : kind_(kText), text_(s ? s : "(null)") {}
  Part(const std::string& s) : kind_(kText), text_(s.c_str()) {}
  Part(char c) : kind_(kChar), char_(c) {}
  // Narrower integers, bool and unscoped enums promote to int: printed as numbers.
  Part(int v) : kind_(kSigned), signed_(v) {}
  Part(long v) : kind_(kSigned), signed_(v) {}
  Part(long long v) : kind_(kSigned), signed_(v) {}
  Part(unsigned v) : kind_(kUnsigned), unsigned_(v) {}
  Part(unsigned long v) : kind_(kUnsigned), unsigned_(v) {}
  Part(unsigned long long v) : kind_(kUnsigned), unsigned_(v) {}
  Part(double v) : kind_(kDouble), double_(v) {}  // like an ostream: 6 significant digits
  void append_to(std::string& out) const;

 private:
  enum Kind { kText, kChar, kSigned, kUnsigned, kDouble } kind_;
  union {
    const char* text_;
    char char_;
    long long signed_;
    unsigned long long unsigned_;
    double double_;
  };
};
std::string join(std::initializer_list<Part> parts);
}  // namespace detail

// Builds a message from its parts: fail(GW_ERR_CORRUPT, "rank ", r, " sent ...").
template <typename... Parts>
std::string concat_parts(const Parts&... parts) {
  return detail::join({detail::Part(parts)...});
}

// A user- or peer-supplied string quoted in a message, cut to its first
// `keep` bytes plus "...(N bytes)" so a message never grows with its input
// (a 100 KB spec must not make a 200 KB error).
std::string clip_text(const std::string& s, size_t keep = 160);

// Messages are capped here as well (every error passes through throw_error).
constexpr size_t kMaxErrorMessageBytes = 4096;

// "0x" and the hexadecimal digits of v.
std::string hex(unsigned long long v);

[[noreturn]] void throw_error(gw_status status, const std::string& message);

template <typename... Parts>
[[noreturn]] void fail(gw_status status, const Parts&... parts) {
  throw_error(status, concat_parts(parts...));
}

}  // namespace gw

// Argument checks: GW_REQUIRE(cond, status, parts...) throws when cond is false.
#define GW_REQUIRE(cond, status, ...)           \
  do {                                          \
    if (!(cond)) ::gw::fail((status), __VA_ARGS__); \
  } while (0)
