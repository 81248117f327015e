// The MPI transport's small plain allreduce (transports/mpi/recursive_doubling.*)
// used directly, below the communicator: exact sums and the flag's maximum on
// every rank, bit-identical across ranks, for world sizes that are and are not
// powers of two; and ranks that pass different counts (which the plan check
// normally stops first) get an error, never a hang or a read past a buffer.
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "common/error.h"
#include "mpi/mpi_test_util.h"
#include "mpi/mpi_transport.h"
#include "mpi/recursive_doubling.h"

using namespace gwtest;

namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

TEST(SmallAllreduce, ExactSumsAndFlagOnEveryRank) {
  gw::MpiTransport t(MPI_COMM_WORLD);
  const int n = world_size(), r = world_rank();
  for (size_t count : {size_t(1), size_t(7), size_t(1000), gw::kRecursiveDoublingMaxBytes / sizeof(float)}) {
    // Small integers: every order of addition gives the exact sum.
    std::vector<float> send(count), recv(count, -1.0f);
    for (size_t i = 0; i < count; ++i) send[i] = static_cast<float>((r + 1) * (i % 97));
    int flag = r == n - 1 ? 5 : 0;
    t.plain_allreduce_sum(send.data(), recv.data(), Ranges{{0, count}}, &flag, 30, "test");
    size_t wrong = 0;
    for (size_t i = 0; i < count; ++i) wrong += recv[i] != static_cast<float>(n * (n + 1) / 2 * (i % 97));
    EXPECT_EQ(wrong, 0u) << "count " << count;
    EXPECT_EQ(flag, 5);
    EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float)));
  }
}

TEST(SmallAllreduce, RangesInPlaceLeaveGapsAlone) {
  gw::MpiTransport t(MPI_COMM_WORLD);
  const int n = world_size();
  std::vector<float> x(100, 1.0f);
  t.plain_allreduce_sum(x.data(), x.data(), Ranges{{0, 10}, {50, 20}}, nullptr, 30, "test");
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(x[i], (i < 10 || (i >= 50 && i < 70)) ? static_cast<float>(n) : 1.0f) << i;
}

// Rank 0 passes fewer values than the others. Whoever receives a message of
// another length reports GW_ERR_MISMATCH naming the sender; a rank left waiting
// for a peer that stopped times out. Nobody hangs or crashes.
TEST(SmallAllreduce, OtherCountIsAnErrorNotAHang) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  gw::MpiTransport t(MPI_COMM_WORLD);
  const size_t count = world_rank() == 0 ? 100 : 200;
  std::vector<float> x(count, 1.0f);
  gw_status got = GW_SUCCESS;
  std::string message;
  try {
    t.plain_allreduce_sum(x.data(), x.data(), Ranges{{0, count}}, nullptr, 3, "test");
  } catch (const gw::Error& e) {
    got = e.status();
    message = e.what();
  }
  EXPECT_TRUE(got == GW_ERR_MISMATCH || got == GW_ERR_TIMEOUT) << gw_status_string(got) << ": " << message;
  int mismatches = got == GW_ERR_MISMATCH;
  MPI_Allreduce(MPI_IN_PLACE, &mismatches, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_GE(mismatches, 1);  // rank 0 and its first partner always meet
}

}  // namespace
