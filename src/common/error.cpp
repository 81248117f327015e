#include "src/common/error.h"

#include "src/common/log.h"

#include <cstdio>

namespace gw {

namespace detail {
void Part::append_to(std::string& out) const {
  char buf[32];
  switch (kind_) {
    case kText: out += text_; return;
    case kChar: out += char_; return;
    case kSigned: std::snprintf(buf, sizeof buf, "%lld", signed_); break;
    case kUnsigned: std::snprintf(buf, sizeof buf, "%llu", unsigned_); break;
    case kDouble: std::snprintf(buf, sizeof buf, "%g", double_); break;
  }
  out += buf;
}

std::string join(std::initializer_list<Part> parts) {
  std::string out;
  for (const Part& p : parts) p.append_to(out);
  return out;
}
}  // namespace detail

std::string hex(unsigned long long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", v);
  return buf;
}

std::string clip_text(const std::string& s, size_t keep) {
  if (s.size() <= keep + 24) return s;
  char tail[48];
  std::snprintf(tail, sizeof tail, "...(%zu bytes)", s.size());
  return s.substr(0, keep) + tail;
}

void throw_error(gw_status status, const std::string& message) {
  const std::string capped = clip_text(message, kMaxErrorMessageBytes);
  GW_LOG(INFO, "error ", gw_status_string(status), ": ", capped);
  throw Error(status, capped);
}

}  // namespace gw
