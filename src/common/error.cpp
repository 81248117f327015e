#include "common/error.h"

#include "common/log.h"

namespace gw {

void throw_error(gw_status status, const std::string& message) {
  GW_LOG(INFO, "error ", gw_status_string(status), ": ", message);
  throw Error(status, message);
}

}  // namespace gw
