// Logging controlled by GW_DEBUG (NONE|WARN|INFO|TRACE), like NCCL_DEBUG.
// Lines go to stderr prefixed with host:pid:rank so interleaved ranks stay readable.
#pragma once

#include "src/common/error.h"

namespace gw {

enum class LogLevel { NONE = 0, WARN = 1, INFO = 2, TRACE = 3 };

LogLevel log_level();              // read once from GW_DEBUG
void set_log_rank(int rank);       // shown in the prefix once known
void log_line(LogLevel level, const std::string& text);

}  // namespace gw

#define GW_LOG(LEVEL, ...)                                                       \
  do {                                                                           \
    if (::gw::log_level() >= ::gw::LogLevel::LEVEL)                        \
      ::gw::log_line(::gw::LogLevel::LEVEL, ::gw::concat_parts(__VA_ARGS__)); \
  } while (0)
