// What every fuzz target of tests/fuzz/ shares: a reader over the fuzzer's
// bytes, the one exception a target may swallow, and the seed writer behind
// `--make-seeds=DIR` (tests/fuzz/README.md).
//
// Each target defines LLVMFuzzerTestOneInput and gw_fuzz_make_seeds();
// fuzz_common.cpp defines LLVMFuzzerInitialize, which runs the latter and
// exits when the target is started with --make-seeds=DIR (libFuzzer itself
// ignores flags that start with "--").
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "src/common/error.h"

namespace gw_fuzz {

// Takes fixed-size fields from the front of the input; past its end they read
// as zero, so every input is a valid one.
class Bytes {
 public:
  Bytes(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  template <typename T>
  T take() {
    T v{};
    const size_t k = sizeof(T) < n_ ? sizeof(T) : n_;
    std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  const uint8_t* rest() const { return p_; }
  size_t left() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// A heap buffer of exactly n elements (new T[n]: never null, not even for
// n = 0), so AddressSanitizer sees any access past its end.
template <typename T>
class Exact {
 public:
  explicit Exact(size_t n, T fill = T()) : p_(new T[n]), n_(n) {
    for (size_t i = 0; i < n; ++i) p_[i] = fill;
  }
  ~Exact() { delete[] p_; }
  Exact(const Exact&) = delete;
  Exact& operator=(const Exact&) = delete;
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return p_[i]; }

 private:
  T* p_;
  size_t n_;
};

// An exact copy of n bytes: the first `avail` from p, the rest zero.
inline std::unique_ptr<Exact<uint8_t>> exact_copy(const uint8_t* p, size_t avail, size_t n) {
  auto v = std::make_unique<Exact<uint8_t>>(n);
  if (avail > n) avail = n;
  if (avail) std::memcpy(v->data(), p, avail);
  return v;
}

// Runs f; a gw::Error (a named status: what peer bytes may cause) is fine,
// anything else propagates and crashes the fuzzer.
template <typename F>
void expect_ok_or_error(F&& f) {
  try {
    f();
  } catch (const gw::Error& e) {
    if (e.status() == GW_SUCCESS) std::abort();  // an error must name a failure
  }
}

// A broken invariant of the library (not a gw::Error): report and crash.
[[noreturn]] void invariant_failed(const char* what);
#define GW_FUZZ_CHECK(cond) \
  do {                      \
    if (!(cond)) ::gw_fuzz::invariant_failed(#cond); \
  } while (0)

// --make-seeds=DIR: writes DIR/<name> (name made file-safe).
void write_seed(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes);

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

}  // namespace gw_fuzz

// Defined by each target: writes its seed corpus into dir.
void gw_fuzz_make_seeds(const std::string& dir);
