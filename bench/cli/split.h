// Lists inside one option value: "maxmin:bits=4;fp16", "1M,16M".
#pragma once

#include <string>
#include <vector>

namespace bench {

// s without leading and trailing white space.
std::string trim(const std::string& s);
// The trimmed, non-empty items of s between separators.
std::vector<std::string> split(const std::string& s, char sep);

}  // namespace bench
