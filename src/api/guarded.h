// The C boundary's one translation of failures: every entry point (c_api.cpp,
// gossip_api.cpp) runs its body through guarded(), which maps gw::Error (and
// any other exception) to a gw_status and keeps the detail for gw_last_error().
#pragma once

#include <new>
#include <string>

#include "src/common/error.h"
#include "src/common/log.h"

namespace gw {
namespace api {

// Records s and its message as this thread's last error (logged at WARN).
gw_status record(gw_status s, const std::string& msg);

// Runs f, mapping every failure to a status. Like errno, the last error keeps
// the detail of the last failing call; success does not clear it.
template <typename F>
gw_status guarded(const char* fn, F&& f) {
  try {
    f();
    return GW_SUCCESS;
  } catch (const gw::Error& e) {
    return record(e.status(), std::string(fn) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return record(GW_ERR_SYSTEM, std::string(fn) + ": out of memory");
  } catch (const std::exception& e) {
    return record(GW_ERR_INTERNAL, std::string(fn) + ": " + e.what());
  } catch (...) {
    return record(GW_ERR_INTERNAL, std::string(fn) + ": unknown exception");
  }
}

}  // namespace api
}  // namespace gw
