#include "src/algo/crosscheck.h"

#include "src/robust/equivocation.h"

namespace gw {
namespace {

// The hash exchange's tag: apart from the two data-exchange tags (exchange_tags.h).
constexpr int kCrosscheckTag = 0x6772;

void put_u64(uint8_t* p, uint64_t v) {  // little-endian on every host
  for (int b = 0; b < 8; ++b) p[b] = static_cast<uint8_t>(v >> (8 * b));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= static_cast<uint64_t>(p[b]) << (8 * b);
  return v;
}

}  // namespace

CrosscheckOutcome crosscheck(Transport& t, CrosscheckBuffers& buf, const PlanFingerprint& plan, uint64_t seq,
                             uint32_t exchange, const std::vector<uint64_t>& row, bool checksum, double timeout_s,
                             const std::string& what) {
  const int n = t.size(), self = t.rank();
  const size_t payload = 8 * static_cast<size_t>(n), bytes = sizeof(MessageHeader) + payload;
  const uint32_t tagged = kCrosscheckExchange | exchange;
  CrosscheckOutcome out;
  uint8_t* msg = buf.send.reserve(bytes, false);
  for (int s = 0; s < n; ++s) put_u64(msg + sizeof(MessageHeader) + 8 * static_cast<size_t>(s), row[s]);
  write_header(msg, plan, seq, tagged, self, 0, 0, payload, checksum);
  if (!buf.batch) buf.batch = t.new_batch();
  buf.recv.resize(static_cast<size_t>(n));
  Batch& b = *buf.batch;
  b.ops.clear();
  for (int peer = 0; peer < n; ++peer) {
    if (peer == self) continue;
    P2POp op;
    op.buf = buf.recv[peer].reserve(bytes, false);
    op.bytes = bytes;
    op.peer = peer;
    op.tag = kCrosscheckTag;
    b.ops.push_back(op);
    op.is_send = true;
    op.buf = msg;
    b.ops.push_back(op);
    out.sent += bytes;
  }
  t.start(b);
  t.wait(b, timeout_s, what);
  buf.matrix.assign(static_cast<size_t>(n) * n, 0);
  for (int s = 0; s < n; ++s) buf.matrix[static_cast<size_t>(self) * n + s] = row[s];
  for (const P2POp& op : b.ops) {
    if (op.is_send) continue;
    out.received += op.received;
    try {
      if (!op.error.empty()) fail(GW_ERR_SYSTEM, "receiving from rank ", op.peer, " failed: ", op.error);
      ReceivedMessage m = validate_message(static_cast<const uint8_t*>(op.buf), op.received, op.peer, self, plan, seq,
                                           tagged, payload, checksum, what + " (its hash row)", op.truncated);
      GW_REQUIRE(!(m.header->flags & kFlagAbort), GW_ERR_CORRUPT, "rank ", op.peer,
                 " sent an abort flag in its hash row for ", what, ", where none belongs");
      for (int s = 0; s < n; ++s)
        buf.matrix[static_cast<size_t>(op.peer) * n + s] = get_u64(m.payload + 8 * static_cast<size_t>(s));
    } catch (const Error& e) {
      out.bad_rows.push_back(e);
    }
  }
  if (out.bad_rows.empty()) out.equivocators = equivocating_senders(buf.matrix.data(), n);
  return out;
}

}  // namespace gw
