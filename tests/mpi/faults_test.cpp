// Faults on every path, the small calls included: a peer that arrives after
// the others gave up, damaged small messages, NaN on a small call, a layer-name
// fingerprint collision, two threads on one communicator. Each test fails on
// the library before these were fixed (a late write into a buffer given up, a
// late rank's SUCCESS, garbage with SUCCESS, NaN with SUCCESS, a collision
// passing as SUCCESS, wrong sums with SUCCESS).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "tests/mpi/mpi_test_util.h"
#include "tests/mpi/tampering_transport.h"

using namespace gwtest;

namespace {

constexpr float kSentinel = -7.0f;

// The last rank arrives two seconds after the others' one-second timeout.
// The others return GW_ERR_TIMEOUT naming it and destroy the communicator
// (the documented recovery); nothing may then write into the receive buffer
// they gave up, nor into memory the library freed (ASan would see it), and
// the late rank must not return SUCCESS from a call its peers gave up.
void late_rank_after_timeout(const std::string& config, size_t count) {
  const int r = world_rank(), late = world_size() - 1;
  gw_comm_t comm = make_comm(config + ";timeout=1");
  std::vector<float> send = make_input(r, count), recv(count, kSentinel);
  if (r != late) {
    gw_status s = gw_allreduce(comm, "t", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
    std::string msg = gw_last_error();
    EXPECT_EQ(s, GW_ERR_TIMEOUT) << msg;
    EXPECT_TRUE(contains(msg, "rank(s) " + std::to_string(late))) << msg;
    EXPECT_FALSE(contains(msg, "rank(s) " + std::to_string(r))) << msg;
    EXPECT_EQ(gw_comm_destroy(comm), GW_SUCCESS);
    std::fill(recv.begin(), recv.end(), kSentinel);
  } else {
    usleep(2000 * 1000);
    gw_status s = gw_allreduce(comm, "t", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
    std::string msg = gw_last_error();
    // Told on entry (REMOTE), or while waiting for the ranks that left (TIMEOUT).
    EXPECT_TRUE(s == GW_ERR_REMOTE || s == GW_ERR_TIMEOUT) << msg;
    EXPECT_TRUE(contains(msg, "abandoned call #0 with GW_ERR_TIMEOUT")) << msg;
    EXPECT_EQ(gw_allreduce(comm, "t", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr),
              GW_ERR_COMM_BROKEN);
    EXPECT_EQ(gw_comm_destroy(comm), GW_SUCCESS);
  }
  // The late rank's messages (if any) have been sent by now; MPI progresses
  // them inside the barrier and the sleep.
  MPI_Barrier(MPI_COMM_WORLD);
  usleep(200 * 1000);
  MPI_Barrier(MPI_COMM_WORLD);
  if (r != late) {
    size_t touched = 0;
    for (float v : recv) touched += v != kSentinel;
    EXPECT_EQ(touched, 0u) << "elements written after the call returned GW_ERR_TIMEOUT";
  }
  // A fresh communicator works on every rank.
  CommGuard fresh("compressor=none");
  std::vector<float> a(16, 1.0f), b(16);
  EXPECT_EQ(gw_allreduce(fresh, "t", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  EXPECT_EQ(b[0], static_cast<float>(world_size()));
}

TEST(LateRank, SmallCallNeverWritesAfterTimeout) { late_rank_after_timeout("fallback_bytes=64K", 1000); }
TEST(LateRank, LargerFallbackNeverWritesIntoTheUsersBuffer) {
  late_rank_after_timeout("fallback_bytes=1M", 100000);  // 400 KB: was a pending MPI_Iallreduce
}
TEST(LateRank, CompressedCallNeverWritesAfterTimeout) {
  late_rank_after_timeout("compressor=maxmin:bits=4", 1000);
}

// One byte of one small message flipped (or the message cut short): the
// receiver names the sender, and no rank keeps going as if nothing happened.
class SmallCallDamage : public testing::TestWithParam<TamperingTransport::Mode> {};

TEST_P(SmallCallDamage, IsCorruptOnTheVictimAndAnErrorEverywhere) {
  const int r = world_rank(), victim = world_size() - 1;
  TamperingTransport* t = nullptr;
  gw_comm_t comm = tampering_comm(&t, GetParam(), "timeout=30;fallback_bytes=64K");
  const size_t count = 1000;
  std::vector<float> send = make_input(r, count), recv(count);
  // An undamaged small call first (the plan is agreed on).
  ASSERT_EQ(gw_allreduce(comm, "s", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
  const std::vector<float> good = recv;
  if (r == victim) t->remaining = 1;
  gw_status first = gw_allreduce(comm, "s", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
  std::string msg = gw_last_error();
  if (r == victim) {
    EXPECT_EQ(first, GW_ERR_CORRUPT) << msg;
    EXPECT_TRUE(contains(msg, "from rank 0")) << msg;
  } else if (first == GW_SUCCESS) {
    EXPECT_EQ(recv, good);  // what this rank received was intact
  } else {
    EXPECT_EQ(first, GW_ERR_REMOTE) << msg;
  }
  gw_status second = gw_allreduce(comm, "s", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
  msg = gw_last_error();
  EXPECT_NE(second, GW_SUCCESS) << "rank " << r << " carried on after the damaged call: " << msg;
  if (first == GW_SUCCESS) EXPECT_TRUE(contains(msg, "rank " + std::to_string(victim) + " abandoned")) << msg;
  EXPECT_EQ(gw_comm_get_state(comm), GW_ERR_COMM_BROKEN);
  gw_comm_destroy(comm);
  MPI_Barrier(MPI_COMM_WORLD);
}

INSTANTIATE_TEST_SUITE_P(Modes, SmallCallDamage,
                         testing::Values(TamperingTransport::kFlipPayloadByte, TamperingTransport::kTruncate));

TEST(SmallCall, NonfiniteErrorPolicyHoldsOnEveryRank) {
  const int odd = world_size() - 1;
  for (const char* cfg : {"fallback_bytes=64K", "fallback_bytes=64K;nonfinite=propagate"}) {
    CommGuard comm(cfg);
    const bool propagate = contains(cfg, "propagate");
    for (float bad : {NAN, INFINITY}) {
      std::vector<float> send = make_input(world_rank(), 100), recv(100);
      if (world_rank() == odd) send[42] = bad;
      gw_status s = gw_allreduce(comm, "n", send.data(), recv.data(), 100, GW_FLOAT32, GW_SUM, nullptr);
      if (propagate) {
        EXPECT_EQ(s, GW_SUCCESS) << gw_last_error();
        EXPECT_FALSE(std::isfinite(recv[42]));
        EXPECT_TRUE(std::isfinite(recv[41]));
      } else {
        EXPECT_EQ(s, GW_ERR_NONFINITE) << gw_last_error();
        EXPECT_TRUE(contains(gw_last_error(), "rank(s) " + std::to_string(odd))) << gw_last_error();
      }
    }
    // Finite inputs again: the communicator is fine.
    std::vector<float> a(100, 1.0f), b(100);
    EXPECT_EQ(gw_allreduce(comm, "n", a.data(), b.data(), 100, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  }
}

// These two names had the same 32-bit layer fingerprint (offset 0, 100
// elements); found by a birthday search in well under a second.
TEST(Fingerprints, LayerNamesThatCollidedIn32BitsAreAMismatchNamingTheLayer) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  for (const char* cfg : {"fallback_bytes=64K", "fallback_bytes=0"}) {
    CommGuard comm(cfg);
    const char* mine = world_rank() == 0 ? "layer34756" : "layer158814";
    std::vector<float> a(100, 1.0f), b(100);
    EXPECT_EQ(gw_allreduce(comm, mine, a.data(), b.data(), 100, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_MISMATCH)
        << cfg;
    const std::string msg = gw_last_error();
    EXPECT_TRUE(contains(msg, "layer names")) << msg;
    EXPECT_TRUE(contains(msg, std::string("'") + mine + "' [0, +100)")) << msg;
    EXPECT_EQ(gw_allreduce(comm, "same", a.data(), b.data(), 100, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  }
}

TEST(Fingerprints, SpecMismatchNamesTheSpecNotAHash) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  CommGuard comm(world_rank() == 0 ? "compressor=maxmin:bits=4" : "compressor=qsgd:bits=4");
  std::vector<float> a(100000, 1.0f), b(100000);
  EXPECT_EQ(gw_allreduce(comm, "w", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_ERR_MISMATCH);
  const std::string msg = gw_last_error();
  EXPECT_TRUE(contains(msg, "compressor spec")) << msg;
  EXPECT_TRUE(contains(msg, world_rank() == 0 ? "'maxmin:" : "'qsgd:")) << msg;
}

// One caller at a time per communicator: while one thread's call waits for
// the peers, a second thread's call is refused at once, and the first one
// still completes with the exact sum.
TEST(Threads, ConcurrentEntryIsRefusedNotInterleaved) {
  const int r = world_rank(), n = world_size();
  CommGuard comm("fallback_bytes=64K");
  std::vector<float> a(256, 1.0f), b(256);
  if (r == 0) {
    std::atomic<bool> inside{false};
    gw_status first = GW_ERR_INTERNAL;
    std::thread caller([&] {
      inside = true;
      first = gw_allreduce(comm, "x", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr);
    });
    while (!inside) std::this_thread::yield();
    usleep(300 * 1000);  // the caller now waits for the other ranks (they start 1 s late)
    std::vector<float> c(256, 1.0f), d(256);
    EXPECT_EQ(gw_allreduce(comm, "y", c.data(), d.data(), c.size(), GW_FLOAT32, GW_SUM, nullptr),
              GW_ERR_INVALID_USAGE);
    EXPECT_TRUE(contains(gw_last_error(), "another thread")) << gw_last_error();
    EXPECT_EQ(gw_comm_destroy(comm), GW_ERR_INVALID_USAGE);  // not while a call is in progress
    caller.join();
    EXPECT_EQ(first, GW_SUCCESS) << gw_last_error();
  } else {
    usleep(1000 * 1000);
    EXPECT_EQ(gw_allreduce(comm, "x", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
        << gw_last_error();
  }
  for (float v : b) ASSERT_EQ(v, static_cast<float>(n));
  // Both threads' calls would have been one collective each: the comm still agrees with its peers.
  EXPECT_EQ(gw_allreduce(comm, "x", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
}

}  // namespace
