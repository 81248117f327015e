// Spec strings: "family:key=value,key=value". parse_spec() checks the syntax;
// SpecReader gives each compressor a typed schema over the keys: every key must
// be read (unknown keys are an error naming the key), values must parse and lie
// in range (the error names the key, the value and the whole spec).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace gw {

struct Spec {
  std::string text;    // as given (trimmed)
  std::string family;  // before ':'
  std::vector<std::pair<std::string, std::string>> params;
};

Spec parse_spec(const std::string& text);

class SpecReader {
 public:
  explicit SpecReader(const Spec& spec);
  int64_t get_int(const char* key, int64_t dflt, int64_t lo, int64_t hi);
  double get_double(const char* key, double dflt, double lo, double hi);
  // Value must be one of `choices`; returns it.
  std::string get_choice(const char* key, const char* dflt, std::initializer_list<const char*> choices);
  // A list value "a|b|c" (dflt when the key is absent); no item may be empty.
  std::vector<std::string> get_list(const char* key, const char* dflt);
  // True when key is given as exactly `word` ("eps=auto"); otherwise read it with a getter above.
  bool is(const char* key, const char* word);
  // Throws GW_ERR_INVALID_ARGUMENT naming the first key nobody read.
  void finish() const;
  const Spec& spec() const { return spec_; }

 private:
  const std::string* find(const char* key);
  Spec spec_;
  std::vector<bool> used_;
};

}  // namespace gw
