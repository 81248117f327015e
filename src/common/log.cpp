#include "src/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace gw {
namespace {
std::atomic<int> g_rank{-1};

LogLevel parse_level() {
  const char* v = std::getenv("GW_DEBUG");
  if (!v || !*v) return LogLevel::NONE;
  if (!strcasecmp(v, "WARN")) return LogLevel::WARN;
  if (!strcasecmp(v, "INFO")) return LogLevel::INFO;
  if (!strcasecmp(v, "TRACE")) return LogLevel::TRACE;
  if (!strcasecmp(v, "NONE")) return LogLevel::NONE;
  std::fprintf(stderr, "gradwire: GW_DEBUG=%s is not NONE|WARN|INFO|TRACE; using WARN\n", v);
  return LogLevel::WARN;
}
}  // namespace

LogLevel log_level() {
  static const LogLevel level = parse_level();
  return level;
}

void set_log_rank(int rank) { g_rank.store(rank); }

void log_line(LogLevel level, const std::string& text) {
  static std::mutex mu;
  static const char* names[] = {"NONE", "WARN", "INFO", "TRACE"};
  char host[64] = {0};
  gethostname(host, sizeof(host) - 1);
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "%s:%d:%d gradwire %s %s\n", host, static_cast<int>(getpid()), g_rank.load(),
               names[static_cast<int>(level)], text.c_str());
}

}  // namespace gw
