// Helpers shared by the multi-rank tests: inputs that every rank can
// regenerate for every other rank (so exact references need no extra MPI),
// bit-identity checks across ranks, and a communicator with a short timeout
// (a bug must fail the test, not hang it).
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gradwire/gradwire.h"
#include "src/common/hash.h"

namespace gwtest {

inline int world_rank() {
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int world_size() {
  int n;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// Gradient-like value of element i on rank r: a smooth part shared by all ranks
// plus rank-specific noise, all from a hash (no state).
inline float input_value(int r, size_t i, uint32_t salt = 0) {
  uint64_t z = (static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull) ^ (i * 0xBF58476D1CE4E5B9ull) ^ (uint64_t(salt) << 32);
  z ^= z >> 31;
  z *= 0x94D049BB133111EBull;
  z ^= z >> 29;
  double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // [0,1)
  return static_cast<float>(std::sin(0.001 * static_cast<double>(i)) * 0.5 + (u - 0.5) * (1.0 + 0.1 * r));
}

inline std::vector<float> make_input(int r, size_t n, uint32_t salt = 0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = input_value(r, i, salt);
  return v;
}

// Exact mean (fp64) of every rank's input.
inline std::vector<double> exact_mean(int nranks, size_t n, uint32_t salt = 0) {
  std::vector<double> m(n, 0.0);
  for (int r = 0; r < nranks; ++r)
    for (size_t i = 0; i < n; ++i) m[i] += input_value(r, i, salt);
  for (double& x : m) x /= nranks;
  return m;
}

inline uint64_t hash_bytes(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

// True when every rank holds the same bytes.
inline bool same_on_all_ranks(const void* p, size_t bytes) {
  uint64_t h = hash_bytes(p, bytes), lo = 0, hi = 0;
  MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

// Every rank agrees that `ok` holds everywhere.
inline bool all_ranks(bool ok) {
  int v = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

inline gw_comm_t make_comm(const std::string& config) {
  gw_comm_t comm = nullptr;
  // Tests of the compressed algorithms use small counts: no plain fallback
  // unless a test asks for it (fallback_test.cpp).
  std::string cfg = "timeout=60;fallback_bytes=0;" + config;
  gw_status s = gw_comm_create_mpi(&comm, MPI_COMM_WORLD, cfg.c_str());
  EXPECT_EQ(s, GW_SUCCESS) << gw_last_error();
  return comm;
}

struct CommGuard {
  gw_comm_t comm;
  explicit CommGuard(const std::string& config = "") : comm(make_comm(config)) {}
  ~CommGuard() { gw_comm_destroy(comm); }
  operator gw_comm_t() const { return comm; }
};

// gw_layer_save_state into a fresh buffer (size query, then the record).
inline std::vector<uint8_t> save_layer_state(gw_comm_t c, const char* layer) {
  size_t size = 0;
  EXPECT_EQ(gw_layer_save_state(c, layer, nullptr, &size), GW_SUCCESS) << gw_last_error();
  std::vector<uint8_t> buf(size);
  EXPECT_EQ(gw_layer_save_state(c, layer, buf.data(), &size), GW_SUCCESS) << gw_last_error();
  return buf;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Every rank's (status, result hash) of one call, gathered on every rank
// (attack tests compare the honest ranks' outcomes).
struct Outcome {
  int status;
  uint64_t hash;
};
inline std::vector<Outcome> outcomes(gw_status st, const std::vector<float>& out) {
  Outcome mine{static_cast<int>(st), st == GW_SUCCESS ? gw::fnv1a64(out.data(), out.size() * 4) : 0};
  std::vector<Outcome> all(static_cast<size_t>(world_size()));
  MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, MPI_COMM_WORLD);
  return all;
}

inline double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// One gw_allreduce_multi of a layer under `spec` (count values) and a small
// "none" layer behind it: the small layer's sum is exactly the plain one's, and
// the whole result is the same on every rank (a scheme's rounds leave the
// call's other layers alone).
inline void expect_other_layer_exact(const std::string& spec, size_t count) {
  const int me = world_rank();
  const char* names[] = {"scheme.w", "plain.b"};
  const size_t counts[] = {count, 77}, offsets[] = {0, count}, total = count + 77;
  CommGuard comm("compressor=" + spec);
  CommGuard plain("compressor=none");
  ASSERT_EQ(gw_layer_set_spec(comm, "plain.b", "none"), GW_SUCCESS);
  std::vector<float> g = make_input(me, total), out(total), exact(total);
  ASSERT_EQ(gw_allreduce_multi(comm, 2, names, offsets, counts, g.data(), out.data(), GW_FLOAT32, GW_SUM, nullptr),
            GW_SUCCESS)
      << spec << ": " << gw_last_error();
  ASSERT_EQ(gw_allreduce_multi(plain, 2, names, offsets, counts, g.data(), exact.data(), GW_FLOAT32, GW_SUM,
                               nullptr),
            GW_SUCCESS);
  for (size_t i = count; i < total; ++i) ASSERT_EQ(out[i], exact[i]) << spec;
  ASSERT_TRUE(same_on_all_ranks(out.data(), total * 4)) << spec;
}

}  // namespace gwtest
