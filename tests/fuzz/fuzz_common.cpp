#include "tests/fuzz/fuzz_common.h"

#include <cctype>
#include <cstdio>

namespace gw_fuzz {

void invariant_failed(const char* what) {
  std::fprintf(stderr, "gradwire fuzz: invariant broken: %s\n", what);
  std::abort();
}

void write_seed(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  const std::string path = dir + "/" + safe;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

}  // namespace gw_fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    const char* a = (*argv)[i];
    if (std::strncmp(a, "--make-seeds=", 13) == 0) {
      gw_fuzz_make_seeds(a + 13);
      std::exit(0);
    }
  }
  return 0;
}
