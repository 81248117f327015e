#include "transports/mpi/mpi_transport.h"

#include <sched.h>
#include <time.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <set>
#include <sstream>

#include "src/common/error.h"
#include "src/common/log.h"
#include "src/wire/abandon_notice.h"

namespace gw {
namespace {

// Apart from the exchange tags (algo/exchange_tags.h: 0x6770, 0x6771).
constexpr int kAbandonNoticeTag = 0x6761;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, len);
}

void check_mpi(int code, const char* call) {
  if (code != MPI_SUCCESS) fail(GW_ERR_SYSTEM, call, " failed: ", mpi_error_text(code));
}

class MpiBatch : public Batch {
 public:
  std::vector<MPI_Request> reqs;
  std::vector<int> indices;
  std::vector<MPI_Status> statuses;
  std::vector<char> matched;       // recv: a message has been matched to the op
  std::vector<uint8_t> oversized;  // drains a message longer than its op's buffer
  size_t pending = 0;
  size_t unmatched = 0;
};

}  // namespace

MpiTransport::MpiTransport(MPI_Comm user_comm) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  GW_REQUIRE(initialized && !finalized, GW_ERR_INVALID_USAGE,
             "MPI is not initialized (call MPI_Init before gw_comm_create_mpi)");
  GW_REQUIRE(user_comm != MPI_COMM_NULL, GW_ERR_INVALID_ARGUMENT, "mpi_comm is MPI_COMM_NULL");
  check_mpi(MPI_Comm_dup(user_comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // A broken transport may still have requests referencing comm_; freeing the
  // communicator then is unsafe in some MPIs, so it is left to MPI_Finalize.
  if (!finalized && !broken_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

std::unique_ptr<Batch> MpiTransport::new_batch() { return std::unique_ptr<Batch>(new MpiBatch()); }

void MpiTransport::start(Batch& b) {
  auto& batch = static_cast<MpiBatch&>(b);
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the MPI transport is broken (an earlier call timed out or was abandoned)");
  const size_t n = batch.ops.size();
  batch.reqs.assign(n, MPI_REQUEST_NULL);
  batch.indices.resize(n);
  batch.statuses.resize(n);
  batch.matched.assign(n, 0);
  batch.pending = n;
  batch.unmatched = 0;
  for (size_t i = 0; i < n; ++i) {
    P2POp& op = batch.ops[i];
    op.complete = false;
    op.received = 0;
    op.truncated = false;
    op.error.clear();
    GW_REQUIRE(op.bytes <= static_cast<size_t>(INT_MAX), GW_ERR_UNSUPPORTED, "a message of ", op.bytes,
               " bytes exceeds MPI's int count; lower chunk_bytes");
    if (op.is_send) {
      check_mpi(MPI_Isend(op.buf, static_cast<int>(op.bytes), MPI_BYTE, op.peer, op.tag, comm_, &batch.reqs[i]),
                "MPI_Isend");
    } else {
      ++batch.unmatched;  // matched by match_receives() once the message's size is known
    }
  }
  match_receives(batch);
}

// Receives are matched with MPI_Improbe and then received with exactly the
// announced size. A peer's message is untrusted: posting a fixed-size receive
// and relying on MPI's truncation error is not safe (Open MPI's shared-memory
// single-copy path has been seen writing the full sender size past a smaller
// receive buffer), so a message longer than expected is drained into scratch
// memory and reported as truncated.
void MpiTransport::match_receives(Batch& b) {
  auto& batch = static_cast<MpiBatch&>(b);
  for (size_t i = 0; i < batch.ops.size() && batch.unmatched > 0; ++i) {
    P2POp& op = batch.ops[i];
    if (op.is_send || batch.matched[i]) continue;
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    check_mpi(MPI_Improbe(op.peer, op.tag, comm_, &flag, &msg, &st), "MPI_Improbe");
    if (!flag) continue;
    batch.matched[i] = 1;
    --batch.unmatched;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count >= 0 && static_cast<size_t>(count) <= op.bytes) {
      check_mpi(MPI_Imrecv(op.buf, count, MPI_BYTE, &msg, &batch.reqs[i]), "MPI_Imrecv");
      continue;
    }
    batch.oversized.resize(static_cast<size_t>(count));
    check_mpi(MPI_Mrecv(batch.oversized.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
    std::memcpy(op.buf, batch.oversized.data(), op.bytes);  // the header explains the mismatch
    op.truncated = true;
    op.received = op.bytes;
    op.complete = true;
    --batch.pending;
  }
}

bool MpiTransport::test(Batch& b) {
  auto& batch = static_cast<MpiBatch&>(b);
  if (batch.pending == 0) return true;
  if (batch.unmatched > 0) match_receives(batch);
  int outcount = 0;
  int rc = MPI_Testsome(static_cast<int>(batch.reqs.size()), batch.reqs.data(), &outcount, batch.indices.data(),
                        batch.statuses.data());
  if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) check_mpi(rc, "MPI_Testsome");
  if (outcount == MPI_UNDEFINED) outcount = 0;
  for (int k = 0; k < outcount; ++k) {
    const int i = batch.indices[k];
    P2POp& op = batch.ops[i];
    const MPI_Status& st = batch.statuses[k];
    if (op.complete) continue;  // completed when it was matched
    op.complete = true;
    --batch.pending;
    int err = (rc == MPI_ERR_IN_STATUS) ? st.MPI_ERROR : MPI_SUCCESS;
    if (!op.is_send) {
      int got = 0;
      MPI_Get_count(&st, MPI_BYTE, &got);
      op.received = got > 0 ? static_cast<size_t>(got) : 0;
    }
    if (err != MPI_SUCCESS) {
      int cls = 0;
      MPI_Error_class(err, &cls);
      if (!op.is_send && cls == MPI_ERR_TRUNCATE) {
        op.truncated = true;
        op.received = op.bytes;
      } else {
        op.error = mpi_error_text(err);
      }
    }
  }
  return batch.pending == 0;
}

template <typename Done, typename Silent>
void MpiTransport::poll(Done&& done, double timeout_s, const std::string& what, Silent&& silent) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // Poll, yielding the core (ranks oversubscribed on few cores must not
  // starve each other), then backing off to short sleeps. Non-blocking MPI
  // progresses only inside these polls, and a nap costs 50+ us on common
  // kernels, so naps come late: early ones multiplied the latency of a small
  // allreduce by 20 (seen: 322 us instead of 14 us at 16 KiB).
  long idle_polls = 0;
  while (!done()) {
    ++idle_polls;
    if (idle_polls <= 20000) {
      if ((idle_polls & 15) == 0) sched_yield();
    } else {
      long us = idle_polls > 200000 ? 200 : 10;
      struct timespec ts = {0, us * 1000};
      nanosleep(&ts, nullptr);
    }
    if ((idle_polls & 63) == 0 && take_notice()) {
      // A peer timed out first: this rank waits for the same missing ranks.
      if (peer_notice_status_ == GW_ERR_TIMEOUT)
        fail(GW_ERR_TIMEOUT, "gave up waiting for ", silent(), " in ", what, " (", peer_notice_,
             " first); the communicator is now broken");
      check_peers(what);
    }
    if (timeout_s > 0 && (idle_polls & 63) == 0 &&
        std::chrono::duration<double>(clock::now() - start).count() > timeout_s) {
      broken_ = true;
      fail(GW_ERR_TIMEOUT, "timed out after ", timeout_s, " s waiting for ", silent(), " in ", what,
           " (GW_TIMEOUT); the communicator is now broken");
    }
  }
}

void MpiTransport::wait(Batch& b, double timeout_s, const std::string& what) {
  auto& batch = static_cast<MpiBatch&>(b);
  poll([&] { return test(batch); }, timeout_s, what, [&] {
    // Who never sent what we wait for; only if everyone did, who never took ours.
    std::set<int> silent, not_taking;
    for (size_t i = 0; i < batch.ops.size(); ++i) {
      if (batch.ops[i].complete) continue;
      (batch.ops[i].is_send ? not_taking : silent).insert(batch.ops[i].peer);
      if (!batch.ops[i].is_send && batch.reqs[i] != MPI_REQUEST_NULL) MPI_Cancel(&batch.reqs[i]);
    }
    if (silent.empty()) silent = not_taking;
    std::ostringstream peers;
    for (int p : silent) peers << (peers.tellp() > 0 ? "," : "") << p;
    return "rank(s) " + peers.str();
  });
}

void MpiTransport::abandon(uint64_t seq, gw_status status) {
  broken_ = true;
  if (abandoned_ || size_ < 2) return;
  abandoned_ = true;
  // Never freed: MPI may still read it after this returns (the peers may be
  // slow to take it), and the transport is broken for good anyway.
  auto* notice = new uint8_t[kAbandonNoticeBytes];
  write_abandon_notice(notice, rank_, seq, status);
  std::vector<MPI_Request> reqs;
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    reqs.push_back(MPI_REQUEST_NULL);
    if (MPI_Isend(notice, static_cast<int>(kAbandonNoticeBytes), MPI_BYTE, peer, kAbandonNoticeTag, comm_,
                  &reqs.back()) != MPI_SUCCESS)
      reqs.pop_back();
  }
  // Push them out for a bounded moment (eager sends over TCP progress only
  // inside MPI calls); what is still pending then is left to MPI.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  int all = 0;
  while (!reqs.empty() && std::chrono::steady_clock::now() < until) {
    if (MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &all, MPI_STATUSES_IGNORE) != MPI_SUCCESS || all) break;
    sched_yield();
  }
  GW_LOG(WARN, "abandoned call #", seq, " with ", gw_status_string(status),
         ": told every peer; this communicator is broken (destroy it, create a new one)");
}

bool MpiTransport::take_notice() {
  if (!peer_notice_.empty()) return true;
  int flag = 0;
  MPI_Status st;
  if (MPI_Iprobe(MPI_ANY_SOURCE, kAbandonNoticeTag, comm_, &flag, &st) != MPI_SUCCESS || !flag) return false;
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  uint8_t notice[kAbandonNoticeBytes] = {};
  if (count == static_cast<int>(kAbandonNoticeBytes)) {
    // The probed message is there: this receive completes at once.
    check_mpi(MPI_Recv(notice, count, MPI_BYTE, st.MPI_SOURCE, kAbandonNoticeTag, comm_, MPI_STATUS_IGNORE),
              "MPI_Recv (abandon notice)");
  }  // else left unreceived: the transport is broken and its communicator never freed
  peer_notice_ = read_abandon_notice(notice, count < 0 ? 0 : static_cast<size_t>(count), st.MPI_SOURCE,
                                     &peer_notice_status_);
  broken_ = true;
  GW_LOG(WARN, peer_notice_);
  return true;
}

void MpiTransport::check_peers(const std::string& what) {
  if (!take_notice()) return;
  fail(GW_ERR_REMOTE, peer_notice_, "; ", what, " cannot complete on every rank and this communicator is broken"
       " (destroy it, create a new one)");
}

}  // namespace gw
