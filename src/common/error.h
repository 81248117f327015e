// Internal error type. Inside the library failures are gw::Error exceptions
// carrying a gw_status and a message that names the cause (and the peer rank
// where a peer is at fault); src/api/ is the only place they become status codes.
#pragma once

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

// Builds a message from any streamable parts: fail(GW_ERR_CORRUPT, "rank ", r, " sent ...").
std::string concat_parts();
template <typename T, typename... Rest>
std::string concat_parts(const T& first, const Rest&... rest);

[[noreturn]] void throw_error(gw_status status, const std::string& message);

template <typename... Parts>
[[noreturn]] void fail(gw_status status, const Parts&... parts) {
  throw_error(status, concat_parts(parts...));
}

}  // namespace gw

#include <sstream>
namespace gw {
inline std::string concat_parts() { return std::string(); }
template <typename T, typename... Rest>
std::string concat_parts(const T& first, const Rest&... rest) {
  std::ostringstream os;
  os << first;
  return os.str() + concat_parts(rest...);
}
}  // namespace gw

// Argument checks: GW_REQUIRE(cond, status, parts...) throws when cond is false.
#define GW_REQUIRE(cond, status, ...)           \
  do {                                          \
    if (!(cond)) ::gw::fail((status), __VA_ARGS__); \
  } while (0)
