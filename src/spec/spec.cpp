#include "src/spec/spec.h"

#include <cerrno>
#include <cstdlib>

#include "src/common/error.h"

namespace gw {
namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\n");
  return s.substr(b, e - b + 1);
}
bool is_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}
}  // namespace

Spec parse_spec(const std::string& raw) {
  Spec spec;
  spec.text = trim(raw);
  const std::string& t = spec.text;
  GW_REQUIRE(!t.empty(), GW_ERR_INVALID_ARGUMENT, "empty compressor spec");
  size_t colon = t.find(':');
  spec.family = trim(t.substr(0, colon));
  GW_REQUIRE(is_name(spec.family), GW_ERR_INVALID_ARGUMENT, "bad compressor name '", clip_text(spec.family),
             "' in spec '", clip_text(t), "'");
  if (colon == std::string::npos) return spec;
  std::string rest = t.substr(colon + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    std::string item = trim(rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    size_t eq = item.find('=');
    GW_REQUIRE(eq != std::string::npos, GW_ERR_INVALID_ARGUMENT, "expected key=value, got '", clip_text(item),
               "' in spec '", clip_text(t), "'");
    std::string key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    GW_REQUIRE(is_name(key), GW_ERR_INVALID_ARGUMENT, "bad key '", clip_text(key), "' in spec '", clip_text(t), "'");
    GW_REQUIRE(!value.empty(), GW_ERR_INVALID_ARGUMENT, "key '", key, "' has no value in spec '", clip_text(t), "'");
    for (auto& p : spec.params)
      GW_REQUIRE(p.first != key, GW_ERR_INVALID_ARGUMENT, "key '", key, "' given twice in spec '", clip_text(t), "'");
    spec.params.emplace_back(key, value);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return spec;
}

SpecReader::SpecReader(const Spec& spec) : spec_(spec), used_(spec.params.size(), false) {}

const std::string* SpecReader::find(const char* key) {
  for (size_t i = 0; i < spec_.params.size(); ++i)
    if (spec_.params[i].first == key) {
      used_[i] = true;
      return &spec_.params[i].second;
    }
  return nullptr;
}

std::vector<std::string> SpecReader::get_list(const char* key, const char* dflt) {
  const std::string* v = find(key);
  const std::string text = v ? *v : dflt;
  std::vector<std::string> items;
  size_t at = 0;
  for (;;) {
    const size_t bar = text.find('|', at);
    items.push_back(trim(text.substr(at, bar == std::string::npos ? std::string::npos : bar - at)));
    GW_REQUIRE(!items.back().empty(), GW_ERR_INVALID_ARGUMENT, "key '", key, "'='", clip_text(text),
               "' has an empty item in spec '", clip_text(spec_.text), "'");
    if (bar == std::string::npos) return items;
    at = bar + 1;
  }
}

bool SpecReader::is(const char* key, const char* word) {
  const std::string* v = find(key);
  return v && *v == word;
}

int64_t SpecReader::get_int(const char* key, int64_t dflt, int64_t lo, int64_t hi) {
  const std::string* v = find(key);
  if (!v) return dflt;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  GW_REQUIRE(errno == 0 && end && *end == '\0', GW_ERR_INVALID_ARGUMENT, "key '", key,
             "' wants an integer, got '", clip_text(*v), "' in spec '", clip_text(spec_.text), "'");
  GW_REQUIRE(x >= lo && x <= hi, GW_ERR_INVALID_ARGUMENT, "key '", key, "'=", x, " is outside [", lo, ", ",
             hi, "] in spec '", clip_text(spec_.text), "'");
  return x;
}

double SpecReader::get_double(const char* key, double dflt, double lo, double hi) {
  const std::string* v = find(key);
  if (!v) return dflt;
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  GW_REQUIRE(errno == 0 && end && *end == '\0' && x == x, GW_ERR_INVALID_ARGUMENT, "key '", key,
             "' wants a number, got '", clip_text(*v), "' in spec '", clip_text(spec_.text), "'");
  GW_REQUIRE(x >= lo && x <= hi, GW_ERR_INVALID_ARGUMENT, "key '", key, "'=", x, " is outside [", lo, ", ",
             hi, "] in spec '", clip_text(spec_.text), "'");
  return x;
}

std::string SpecReader::get_choice(const char* key, const char* dflt,
                                   std::initializer_list<const char*> choices) {
  const std::string* v = find(key);
  if (!v) return dflt;
  std::string all;
  for (const char* c : choices) {
    if (*v == c) return *v;
    all += all.empty() ? c : std::string("|") + c;
  }
  fail(GW_ERR_INVALID_ARGUMENT, "key '", key, "'='", clip_text(*v), "' is not one of ", all, " in spec '", clip_text(spec_.text),
       "'");
}

void SpecReader::finish() const {
  for (size_t i = 0; i < used_.size(); ++i)
    GW_REQUIRE(used_[i], GW_ERR_INVALID_ARGUMENT, "unknown key '", clip_text(spec_.params[i].first),
               "' for compressor '", spec_.family, "' in spec '", clip_text(spec_.text), "'");
}

}  // namespace gw
