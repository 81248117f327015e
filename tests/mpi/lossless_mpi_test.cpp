// The lossless stage over real MPI ranks: variable-size payloads in the host
// collective. gw_allreduce / gw_allgather with lossless=elias|zstd give every
// rank the same bits, equal to the same call without the stage (the stage is
// lossless and the stochastic rounding draws are the same), and bytes_sent
// counts the smaller payloads actually sent. Damaged length prefixes are
// GW_ERR_CORRUPT naming the sender; nobody hangs.
#include <algorithm>
#include <string>
#include <tuple>

#include "src/comm/communicator.h"
#include "compressors/lossless/lossless.h"
#include "tests/mpi/mpi_test_util.h"
#include "transports/mpi/mpi_transport.h"

using namespace gwtest;

namespace {

std::vector<const char*> modes() {
  std::vector<const char*> m = {"elias"};
  if (gw::lossless_zstd_available()) m.push_back("zstd");
  return m;
}

gw_stats stats_of(gw_comm_t comm, const char* layer) {
  gw_stats st{};
  EXPECT_EQ(gw_layer_stats(comm, layer, &st), GW_SUCCESS) << gw_last_error();
  return st;
}

class LosslessAllreduce : public testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(LosslessAllreduce, EqualsTheInnerCodecOnEveryRank) {
  const std::string algo = std::get<0>(GetParam()), inner = std::get<1>(GetParam());
  const int r = world_rank();
  for (const char* mode : modes()) {
    const std::string base = "chunk_bytes=64K;algorithm=" + algo + ";compressor=";
    CommGuard plain(base + inner), coded(base + inner + ",lossless=" + mode);
    const size_t n = static_cast<size_t>(world_size());
    for (size_t count : {size_t(0), size_t(1), n + 1, size_t(1000), size_t(64 * 1024 + 3), size_t(300001)}) {
      std::vector<float> send = make_input(r, count, 5), want(count), got(count);
      ASSERT_EQ(gw_allreduce(plain, "g", send.data(), want.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(gw_allreduce(coded, "g", send.data(), got.data(), count, GW_FLOAT32, GW_AVG, nullptr), GW_SUCCESS)
          << gw_last_error();
      // count 0: the vectors' data() may be null, and memcmp of null is UB even for 0 bytes
      EXPECT_EQ(0, count == 0 ? 0 : std::memcmp(want.data(), got.data(), count * sizeof(float)))
          << inner << " lossless=" << mode << " count " << count;
      EXPECT_TRUE(same_on_all_ranks(got.data(), count * sizeof(float))) << mode << " count " << count;
    }
    // Actual bytes are counted: what was sent is what the peers received.
    gw_stats a = stats_of(plain, "g"), b = stats_of(coded, "g");
    EXPECT_GT(b.bytes_sent, 0u);
    uint64_t sent = b.bytes_sent, received = 0;
    MPI_Allreduce(&b.bytes_received, &received, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    uint64_t sent_all = 0;
    MPI_Allreduce(&sent, &sent_all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_EQ(sent_all, received) << mode;
    // qsgd's levels are small: Elias coding sends clearly less (zstd gains
    // less).
    if (inner.rfind("qsgd", 0) == 0 && std::string(mode) == "elias")
      EXPECT_LT(b.bytes_sent, a.bytes_sent * 3 / 4) << a.bytes_sent << " vs " << b.bytes_sent;
    else
      EXPECT_LE(b.bytes_sent, a.bytes_sent + a.bytes_sent / 50) << mode;  // at worst the 4-byte prefixes
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, LosslessAllreduce,
                         testing::Combine(testing::Values("allgather", "sra"),
                                          testing::Values("qsgd:bits=4,bucket=512", "nuq:bits=3,bucket=256",
                                                          "maxmin:bits=2,bucket=512")));

TEST(Lossless, AllgatherAndMixedLayersEqualTheInnerCodecs) {
  const int r = world_rank(), n = world_size();
  for (const char* mode : modes()) {
    for (const char* algo : {"allgather", "sra"}) {
      const std::string m = mode, cfg = std::string("chunk_bytes=64K;compressor=qsgd:bits=4;algorithm=") + algo;
      CommGuard plain(cfg), coded(cfg);
      // Per-layer specs: a fixed-size layer between two lossless ones, in one
      // bucket.
      ASSERT_EQ(gw_layer_set_spec(coded, "w1", ("qsgd:bits=4,lossless=" + m).c_str()), GW_SUCCESS);
      ASSERT_EQ(gw_layer_set_spec(coded, "w3", ("maxmin:bits=3,lossless=" + m).c_str()), GW_SUCCESS);
      ASSERT_EQ(gw_layer_set_spec(plain, "w3", "maxmin:bits=3"), GW_SUCCESS);
      ASSERT_EQ(gw_layer_set_spec(coded, "w2", "maxmin:bits=8"), GW_SUCCESS);
      ASSERT_EQ(gw_layer_set_spec(plain, "w2", "maxmin:bits=8"), GW_SUCCESS);
      const char* names[] = {"w1", "w2", "w3"};
      const size_t offsets[] = {0, 70000, 70100}, counts[] = {70000, 100, 150001};
      const size_t total = 70100 + 150001;
      std::vector<float> send = make_input(r, total, 9), want(total), got(total);
      ASSERT_EQ(
          gw_allreduce_multi(plain, 3, names, offsets, counts, send.data(), want.data(), GW_FLOAT32, GW_SUM, nullptr),
          GW_SUCCESS)
          << gw_last_error();
      ASSERT_EQ(
          gw_allreduce_multi(coded, 3, names, offsets, counts, send.data(), got.data(), GW_FLOAT32, GW_SUM, nullptr),
          GW_SUCCESS)
          << gw_last_error();
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), total * sizeof(float))) << mode << " " << algo;
      EXPECT_TRUE(same_on_all_ranks(got.data(), total * sizeof(float)));
      const size_t count = 40000;
      std::vector<float> x = make_input(r, count, 3), ga(count * n), gb(count * n);
      ASSERT_EQ(gw_allgather(plain, "ag", x.data(), ga.data(), count, GW_FLOAT32, nullptr), GW_SUCCESS);
      ASSERT_EQ(gw_layer_set_spec(coded, "ag", ("qsgd:bits=4,lossless=" + m).c_str()), GW_SUCCESS);
      ASSERT_EQ(gw_allgather(coded, "ag", x.data(), gb.data(), count, GW_FLOAT32, nullptr), GW_SUCCESS)
          << gw_last_error();
      EXPECT_EQ(0, std::memcmp(ga.data(), gb.data(), ga.size() * sizeof(float))) << mode;
      EXPECT_LT(stats_of(coded, "ag").bytes_sent, stats_of(plain, "ag").bytes_sent);
    }
  }
}

TEST(Lossless, SpecMismatchIsNamed) {
  CommGuard comm("compressor=qsgd:bits=4");
  const bool odd = world_rank() == world_size() - 1;
  ASSERT_EQ(gw_layer_set_spec(comm, "s", odd ? "qsgd:bits=4,lossless=elias" : "qsgd:bits=4"), GW_SUCCESS);
  for (size_t count : {size_t(100), size_t(300000)}) {
    std::vector<float> a = make_input(world_rank(), count), b(count);
    EXPECT_EQ(gw_allreduce(comm, "s", a.data(), b.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_ERR_MISMATCH);
    EXPECT_TRUE(contains(gw_last_error(), "compressor spec")) << gw_last_error();
  }
  std::vector<float> a(10, 1.0f), b(10);
  EXPECT_EQ(gw_allreduce(comm, "after", a.data(), b.data(), 10, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
      << gw_last_error();
}

// A transport that rewrites the length prefix of the first piece of what it
// receives from rank 0 (checksums off, so only the payload checks stand).
class PrefixTamperingTransport : public gw::MpiTransport {
 public:
  PrefixTamperingTransport() : gw::MpiTransport(MPI_COMM_WORLD) {}
  int remaining = 0;
  uint32_t word = 0;
  void wait(gw::Batch& b, double timeout_s, const std::string& what) override {
    gw::MpiTransport::wait(b, timeout_s, what);
    for (gw::P2POp& op : b.ops) {
      if (op.is_send || op.peer != 0 || remaining == 0 || op.received < sizeof(gw::MessageHeader) + 4) continue;
      --remaining;
      std::memcpy(static_cast<uint8_t*>(op.buf) + sizeof(gw::MessageHeader), &word, 4);
    }
  }
};

TEST(Lossless, DamagedLengthPrefixIsCorruptNamingTheSender) {
  const int r = world_rank(), victim = world_size() - 1;
  for (const char* algo : {"allgather", "sra"}) {
    for (uint32_t word : {0x7fffffffu, 0u, 0x80000000u, 5u}) {
      auto* t = new PrefixTamperingTransport();
      const std::string cfg =
          std::string("timeout=60;checksum=0;chunk_bytes=64K;compressor=qsgd:bits=4,lossless=elias;algorithm=") + algo;
      auto* c = new gw::Communicator(std::unique_ptr<gw::Transport>(t), gw::parse_config(cfg.c_str()));
      gw_comm_t comm = reinterpret_cast<gw_comm_t>(c);
      // Above 64 KiB of input: compressed on every version of the config defaults.
      for (size_t count : {size_t(20000), size_t(300000)}) {
        if (r == victim) {
          t->remaining = 1;
          t->word = word;
        }
        std::vector<float> send = make_input(r, count), recv(count);
        gw_status s = gw_allreduce(comm, "c", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr);
        std::string msg = gw_last_error();
        if (r == victim) {
          EXPECT_EQ(s, GW_ERR_CORRUPT) << algo << " word " << word << ": " << msg;
          EXPECT_TRUE(contains(msg, "rank 0")) << msg;
        } else {
          EXPECT_TRUE(s == GW_SUCCESS || s == GW_ERR_REMOTE) << msg;
        }
        t->remaining = 0;
        EXPECT_EQ(gw_allreduce(comm, "c2", send.data(), recv.data(), count, GW_FLOAT32, GW_SUM, nullptr), GW_SUCCESS)
            << gw_last_error();
        EXPECT_TRUE(same_on_all_ranks(recv.data(), count * sizeof(float)));
      }
      gw_comm_destroy(comm);
    }
  }
}

}  // namespace
