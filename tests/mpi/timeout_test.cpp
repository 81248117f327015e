// A peer that never arrives: the others return GW_ERR_TIMEOUT naming it within
// the configured timeout, the communicator reports itself broken, and later
// calls fail fast with GW_ERR_COMM_BROKEN instead of hanging (NCCL hangs here).
// Under a robust rule too: the honest ranks do not go on without the silent
// peer (docs/ROBUST.md, "A peer that stops sending", says why).
#include <chrono>

#include "tests/mpi/mpi_test_util.h"

using namespace gwtest;

namespace {

void absent_peer_is_named_and_breaks_the_comm(const std::string& config) {
  const int absent = world_size() - 1;
  gw_comm_t comm = make_comm("timeout=2;" + config);
  std::vector<float> a(256, 1.0f), b(256);  // small: sends complete eagerly
  if (world_rank() != absent) {
    auto t0 = std::chrono::steady_clock::now();
    gw_status s = gw_allreduce(comm, "t", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr);
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string msg = gw_last_error();
    EXPECT_EQ(s, GW_ERR_TIMEOUT) << msg;
    EXPECT_NE(msg.find("rank(s) " + std::to_string(absent)), std::string::npos) << msg;
    // Its own timer, or a peer's abandon notice: that peer timed out first, a
    // little earlier if it entered the call earlier (ranks are never exactly aligned).
    if (msg.find("abandoned call") == std::string::npos) EXPECT_GE(waited, 1.9) << msg;
    else EXPECT_GE(waited, 1.0) << msg;
    EXPECT_LT(waited, 30.0);
    EXPECT_EQ(gw_comm_get_state(comm), GW_ERR_COMM_BROKEN);
    EXPECT_EQ(gw_allreduce(comm, "t", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_ERR_COMM_BROKEN);
  } else {
    EXPECT_EQ(gw_comm_get_state(comm), GW_SUCCESS);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  gw_comm_destroy(comm);
  // A fresh communicator works again on every rank.
  CommGuard fresh("compressor=none");
  EXPECT_EQ(gw_allreduce(fresh, "t", a.data(), b.data(), a.size(), GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS);
  EXPECT_EQ(b[0], static_cast<float>(world_size()));
}

}  // namespace

TEST(Timeout, AbsentPeerIsNamedAndBreaksTheComm) { absent_peer_is_named_and_breaks_the_comm("compressor=maxmin:bits=4"); }

TEST(Timeout, AbsentPeerUnderARobustRuleIsNamedAndBreaksTheComm) {
  absent_peer_is_named_and_breaks_the_comm("compressor=none;robust=median");
}
