// A grow-only host byte buffer for messages. When the call's data lives on a
// GPU the buffer is pinned (page-locked), so payload copies to and from the
// device run at full PCIe speed and truly asynchronously.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gw {

class HostBytes {
 public:
  HostBytes() = default;
  HostBytes(HostBytes&& o) noexcept : p_(o.p_), cap_(o.cap_), pinned_(o.pinned_) { o.p_ = nullptr, o.cap_ = 0; }
  HostBytes(const HostBytes&) = delete;
  HostBytes& operator=(const HostBytes&) = delete;
  ~HostBytes() { release(); }

  // At least `bytes` bytes, pinned or not as asked; contents are not kept.
  uint8_t* reserve(size_t bytes, bool pinned);
  uint8_t* data() const { return p_; }
  size_t capacity() const { return cap_; }

 private:
  void release();
  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
  bool pinned_ = false;
};

}  // namespace gw
