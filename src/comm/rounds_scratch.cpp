#include "src/comm/rounds_scratch.h"

#include "src/core/device_compressor.h"

namespace gw {

RoundBuffer::~RoundBuffer() { device::release(device_); }

float* RoundBuffer::get(size_t n, bool on_device) {
  if (!on_device) {
    if (host_.size() < n) host_.resize(n);
    return host_.data();
  }
  if (device_floats_ < n) {
    device::release(device_);  // waits for the device: nothing still uses the old one
    device_ = nullptr;
    device_floats_ = 0;
    device_ = static_cast<float*>(device::alloc(n * sizeof(float)));
    device_floats_ = n;
  }
  return device_;
}

}  // namespace gw
