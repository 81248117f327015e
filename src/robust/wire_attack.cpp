#include "src/robust/wire_attack.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <deque>
#include <vector>

#include "src/algo/crosscheck.h"
#include "src/algo/plan.h"
#include "src/common/hash.h"
#include "src/common/rng.h"
#include "src/wire/checksum.h"
#include "src/wire/header.h"

namespace gw {
namespace {

class WireAttackTransport final : public Transport {
 public:
  WireAttackTransport(std::unique_ptr<Transport> inner, WireAttack kind, uint64_t key)
      : inner_(std::move(inner)), kind_(kind), key_(key) {}

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  const char* name() const override { return inner_->name(); }
  std::unique_ptr<Batch> new_batch() override { return inner_->new_batch(); }
  void start(Batch& b) override {
    for (P2POp& op : b.ops)
      if (op.is_send && op.bytes >= sizeof(MessageHeader)) rewrite(op);
    inner_->start(b);
  }
  bool test(Batch& b) override { return inner_->test(b); }
  void wait(Batch& b, double timeout_s, const std::string& what) override { inner_->wait(b, timeout_s, what); }
  void abandon(uint64_t seq, gw_status status) override { inner_->abandon(seq, status); }
  void check_peers(const std::string& what) override { inner_->check_peers(what); }
  bool broken() const override { return inner_->broken(); }

 private:
  void rewrite(P2POp& op);
  std::vector<uint8_t>& keep(size_t bytes);

  std::unique_ptr<Transport> inner_;
  const WireAttack kind_;
  const uint64_t key_;
  // The rewritten messages: a posted send reads its buffer until it completes,
  // and a batch may be abandoned in flight (a timeout), so each is kept for a
  // while; the oldest is reused once many newer ones exist.
  std::deque<std::vector<uint8_t>> out_;
};

std::vector<uint8_t>& WireAttackTransport::keep(size_t bytes) {
  constexpr size_t kKept = 64;  // far more messages than a call keeps in flight
  if (out_.size() < kKept) {
    out_.emplace_back();
  } else {
    out_.push_back(std::move(out_.front()));
    out_.pop_front();
  }
  out_.back().assign(bytes, 0xA5);
  return out_.back();
}

void WireAttackTransport::rewrite(P2POp& op) {
  const auto* src = static_cast<const uint8_t*>(op.buf);
  MessageHeader h;
  std::memcpy(&h, src, sizeof h);
  // Allreduce data only, as the input kinds attack allreduce inputs only (an
  // allgather, such as a framework's setup check, goes through). Abort
  // messages carry no payload; hash rows (crosscheck.h) are a reporter's
  // word, a different attack (docs/ROBUST.md: lying reporters).
  if (h.kind != static_cast<uint8_t>(CallKind::kAllreduce) || (h.flags & kFlagAbort) || (h.exchange & kCrosscheckExchange)) return;
  // equivocate: the first half of the peers (in rank order) get the message as it was built.
  const int peer_index = op.peer - (op.peer > rank() ? 1 : 0);
  if (kind_ == WireAttack::kEquivocate && peer_index < size() / 2) return;
  size_t bytes = op.bytes;
  if (kind_ == WireAttack::kOversized) bytes += size_t{1} << 20;
  if (kind_ == WireAttack::kTruncated) bytes -= 7;  // op.bytes holds at least a header
  std::vector<uint8_t>& m = keep(bytes);
  std::memcpy(m.data(), src, std::min(bytes, op.bytes));
  if (kind_ == WireAttack::kMalformed) h.payload_bytes += uint64_t{1} << 40;
  const bool garbage = kind_ == WireAttack::kGarbage || kind_ == WireAttack::kEquivocate;
  if (garbage) {
    const uint64_t key = hash_value(key_, hash_value(h.seq, h.exchange));
    for (size_t i = sizeof h; i < m.size(); ++i) m[i] = static_cast<uint8_t>(rng_u32(key, static_cast<uint32_t>(i)));
  }
  if (kind_ == WireAttack::kMalformed || garbage) {
    // A valid checksum over the lie: the attacker knows the format.
    h.checksum = 0;
    std::memcpy(m.data(), &h, sizeof h);
    if (h.flags & kFlagChecksum) {
      const uint32_t crc = crc32c(m.data(), std::min<size_t>(m.size(), sizeof h + h.payload_bytes));
      std::memcpy(m.data() + offsetof(MessageHeader, checksum), &crc, sizeof crc);
    }
  }
  op.buf = m.data();
  op.bytes = bytes;
}

}  // namespace

std::unique_ptr<Transport> make_wire_attack_transport(std::unique_ptr<Transport> inner, WireAttack kind, uint64_t key) {
  return std::unique_ptr<Transport>(new WireAttackTransport(std::move(inner), kind, key));
}

}  // namespace gw
