#include "mpi/mpi_transport.h"

#include <sched.h>
#include <time.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "mpi/recursive_doubling.h"

namespace gw {
namespace {

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
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the MPI transport is broken by an earlier timeout");
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
    std::set<int> silent;
    for (size_t i = 0; i < batch.ops.size(); ++i) {
      if (batch.ops[i].complete) continue;
      silent.insert(batch.ops[i].peer);
      if (!batch.ops[i].is_send && batch.reqs[i] != MPI_REQUEST_NULL) MPI_Cancel(&batch.reqs[i]);
    }
    std::ostringstream peers;
    for (int p : silent) peers << (peers.tellp() > 0 ? "," : "") << p;
    return "rank(s) " + peers.str();
  });
}

template <typename StartData>
void MpiTransport::plain_collective(int* flag, double timeout_s, const std::string& what, StartData&& start_data) {
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the MPI transport is broken by an earlier timeout");
  plain_reqs_.clear();
  if (flag) {
    plain_reqs_.push_back(MPI_REQUEST_NULL);
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, flag, 1, MPI_INT, MPI_MAX, comm_, &plain_reqs_[0]), "MPI_Iallreduce (flag)");
  }
  start_data();
  poll(
      [&] {
        int all = 0;
        check_mpi(MPI_Testall(static_cast<int>(plain_reqs_.size()), plain_reqs_.data(), &all, MPI_STATUSES_IGNORE),
                  "MPI_Testall (plain collective)");
        return all != 0;
      },
      timeout_s, what, [] { return std::string("the other ranks (plain collective; every rank had passed the plan check)"); });
}

void MpiTransport::plain_allreduce_sum(const float* send, float* recv,
                                       const std::vector<std::pair<size_t, size_t>>& ranges, int* flag,
                                       double timeout_s, const std::string& what) {
  for (const auto& r : ranges)
    GW_REQUIRE(r.second <= static_cast<size_t>(INT_MAX), GW_ERR_UNSUPPORTED, "a plain allreduce of ", r.second,
               " elements exceeds MPI's int count; lower fallback_bytes");
  auto src = [&](size_t first) { return send == recv ? MPI_IN_PLACE : static_cast<const void*>(send + first); };
  if (timeout_s == 0 && !flag) {
    // No timeout to honour: MPI's blocking allreduce, several times faster for
    // small messages than the non-blocking one (Open MPI's libnbc).
    GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the MPI transport is broken by an earlier timeout");
    for (const auto& r : ranges)
      check_mpi(MPI_Allreduce(src(r.first), recv + r.first, static_cast<int>(r.second), MPI_FLOAT, MPI_SUM, comm_),
                "MPI_Allreduce");
    return;
  }
  size_t total = 0;
  for (const auto& r : ranges) total += r.second;
  if (size_ > 1 && total * sizeof(float) <= kRecursiveDoublingMaxBytes)
    return small_allreduce(send, recv, ranges, total, flag, timeout_s, what);
  plain_collective(flag, timeout_s, what, [&] {
    for (const auto& r : ranges) {
      plain_reqs_.push_back(MPI_REQUEST_NULL);
      check_mpi(MPI_Iallreduce(src(r.first), recv + r.first, static_cast<int>(r.second), MPI_FLOAT, MPI_SUM, comm_,
                               &plain_reqs_.back()),
                "MPI_Iallreduce");
    }
  });
}

void MpiTransport::small_allreduce(const float* send, float* recv, const std::vector<std::pair<size_t, size_t>>& ranges,
                                   size_t total, int* flag, double timeout_s, const std::string& what) {
  GW_REQUIRE(!broken_, GW_ERR_COMM_BROKEN, "the MPI transport is broken by an earlier timeout");
  small_buf_.resize(total + 1);
  size_t at = 0;
  for (const auto& r : ranges) {
    std::memcpy(&small_buf_[at], send + r.first, r.second * sizeof(float));
    at += r.second;
  }
  const int f = flag ? *flag : 0;
  std::memcpy(&small_buf_[total], &f, sizeof(int));
  constexpr int kSmallAllreduceTag = 0x6772;  // apart from the exchange tags (exchange_tags.h)
  RecursiveDoubling rd{comm_, rank_, size_, kSmallAllreduceTag,
                       [&](MPI_Request* reqs, MPI_Status* st, int count, int peer) {
                         poll(
                             [&] {
                               int all = 0;
                               const int rc = MPI_Testall(count, reqs, &all, st);
                               if (rc == MPI_SUCCESS) return all != 0;
                               // A longer message than ours (a peer with a larger count) or a
                               // failure: nothing more can be trusted on this communicator.
                               broken_ = true;
                               for (int i = 0; i < count; ++i)
                                 if (reqs[i] != MPI_REQUEST_NULL) MPI_Cancel(&reqs[i]);
                               int cls = 0;
                               for (int i = 0; i < count && rc == MPI_ERR_IN_STATUS; ++i)
                                 if (st[i].MPI_ERROR != MPI_SUCCESS && st[i].MPI_ERROR != MPI_ERR_PENDING)
                                   MPI_Error_class(st[i].MPI_ERROR, &cls);
                               if (cls == MPI_ERR_TRUNCATE)
                                 fail(GW_ERR_MISMATCH, "rank ", peer, " sent more values for ", what,
                                      " than this rank (", rank_, ") has (ranks called with different counts);"
                                      " the communicator is now broken");
                               fail(GW_ERR_SYSTEM, "the plain allreduce with rank ", peer, " failed: ",
                                    mpi_error_text(rc == MPI_ERR_IN_STATUS && cls ? cls : rc));
                             },
                             timeout_s, what, [&] { return "rank " + std::to_string(peer) + " (plain allreduce)"; });
                       }};
  try {
    rd.sum(small_buf_, small_scratch_, total, what);
  } catch (const Error& e) {
    if (e.status() == GW_ERR_MISMATCH) broken_ = true;  // messages of the call may still be in flight
    throw;
  }
  at = 0;
  for (const auto& r : ranges) {
    std::memcpy(recv + r.first, &small_buf_[at], r.second * sizeof(float));
    at += r.second;
  }
  if (flag) std::memcpy(flag, &small_buf_[total], sizeof(int));
}

void MpiTransport::plain_allgather(const void* send, void* recv, size_t bytes, int* flag, double timeout_s,
                                   const std::string& what) {
  plain_collective(flag, timeout_s, what, [&] {
    GW_REQUIRE(bytes <= static_cast<size_t>(INT_MAX), GW_ERR_UNSUPPORTED, "a plain allgather of ", bytes,
               " bytes exceeds MPI's int count; lower fallback_bytes");
    plain_reqs_.push_back(MPI_REQUEST_NULL);
    check_mpi(MPI_Iallgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes), MPI_BYTE, comm_,
                             &plain_reqs_.back()),
              "MPI_Iallgather");
  });
}

}  // namespace gw
