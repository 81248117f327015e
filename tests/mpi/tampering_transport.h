// A transport that damages what one rank receives from another (after the
// receive completed, before validation), for the corruption tests: a flipped
// payload byte (the third last, or one at a given offset) or a truncated
// message, armed for a number of messages.
#pragma once

#include <memory>
#include <string>

#include "src/comm/communicator.h"
#include "transports/mpi/mpi_transport.h"

namespace gwtest {

// A transport that damages what it receives from one peer, once armed.
class TamperingTransport : public gw::MpiTransport {
 public:
  enum Mode { kFlipPayloadByte, kTruncate, kFlipByteAt };
  TamperingTransport(int victim_from, Mode mode) : gw::MpiTransport(MPI_COMM_WORLD), from_(victim_from), mode_(mode) {}
  int remaining = 0;  // messages still to damage
  size_t flip_at = 0;  // kFlipByteAt: the message byte flipped
  void wait(gw::Batch& b, double timeout_s, const std::string& what) override {
    gw::MpiTransport::wait(b, timeout_s, what);
    for (gw::P2POp& op : b.ops) {
      if (op.is_send || op.peer != from_ || remaining == 0 || op.received < 100) continue;
      --remaining;
      if (mode_ == kFlipPayloadByte) static_cast<uint8_t*>(op.buf)[op.received - 3] ^= 0x40;
      else if (mode_ == kFlipByteAt && flip_at < op.received) static_cast<uint8_t*>(op.buf)[flip_at] ^= 0x40;
      else if (mode_ == kTruncate) op.received -= 7;
    }
  }

 private:
  int from_;
  Mode mode_;
};

inline gw_comm_t tampering_comm(TamperingTransport** out, TamperingTransport::Mode mode, const char* config) {
  auto* t = new TamperingTransport(0, mode);
  *out = t;
  // Compressed messages unless `config` sets fallback_bytes itself (the later item wins).
  std::string cfg = std::string("fallback_bytes=0;") + config;
  auto* c = new gw::Communicator(std::unique_ptr<gw::Transport>(t), gw::parse_config(cfg.c_str()));
  return reinterpret_cast<gw_comm_t>(c);
}

}  // namespace gwtest
