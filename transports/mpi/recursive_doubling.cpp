#include "mpi/recursive_doubling.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/error.h"

namespace gw {
namespace {

// mine = lower-ranked operand + higher-ranked one, values summed, flag max.
void combine(std::vector<float>& mine, const std::vector<float>& theirs, size_t floats, bool mine_first) {
  for (size_t i = 0; i < floats; ++i) mine[i] = mine_first ? mine[i] + theirs[i] : theirs[i] + mine[i];
  int a, b;
  std::memcpy(&a, &mine[floats], sizeof(int));
  std::memcpy(&b, &theirs[floats], sizeof(int));
  a = std::max(a, b);
  std::memcpy(&mine[floats], &a, sizeof(int));
}

}  // namespace

void RecursiveDoubling::sum(std::vector<float>& buf, std::vector<float>& theirs, size_t floats,
                            const std::string& what) const {
  GW_REQUIRE(buf.size() == floats + 1 && buf.size() <= static_cast<size_t>(INT_MAX), GW_ERR_INTERNAL,
             "recursive doubling given a buffer of ", buf.size(), " words for ", floats, " values");
  const int words = static_cast<int>(buf.size());
  theirs.resize(buf.size());
  MPI_Request reqs[2];
  MPI_Status st[2];
  // One message each way with `peer`; `in` receives (null: send only), `out` sends (null: receive only).
  auto exchange = [&](int peer, float* in, const float* out) {
    int k = 0;
    if (in) MPI_Irecv(in, words, MPI_FLOAT, peer, tag, comm, &reqs[k++]);
    if (out) MPI_Isend(out, words, MPI_FLOAT, peer, tag, comm, &reqs[k++]);
    wait(reqs, st, k, peer);
    if (!in) return;
    int got = 0;
    MPI_Get_count(&st[0], MPI_FLOAT, &got);
    GW_REQUIRE(got == words, GW_ERR_MISMATCH, "rank ", peer, " sent ", got - 1, " values for ", what, " where this rank (",
               rank, ") has ", floats, " (ranks called with different counts)");
  };
  int pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const int rem = size - pof2;
  // Ranks below 2*rem pair up: the odd one hands its data to the even one and
  // waits for the result; the even one goes on as virtual rank rank/2.
  int vrank;
  if (rank < 2 * rem) {
    if (rank & 1) {
      exchange(rank - 1, nullptr, buf.data());
      exchange(rank - 1, buf.data(), nullptr);
      return;
    }
    exchange(rank + 1, theirs.data(), nullptr);
    combine(buf, theirs, floats, true);
    vrank = rank / 2;
  } else {
    vrank = rank - rem;
  }
  for (int mask = 1; mask < pof2; mask <<= 1) {
    const int vpeer = vrank ^ mask;
    const int peer = vpeer < rem ? vpeer * 2 : vpeer + rem;
    exchange(peer, theirs.data(), buf.data());
    combine(buf, theirs, floats, rank < peer);
  }
  if (rank < 2 * rem) exchange(rank + 1, nullptr, buf.data());
}

}  // namespace gw
