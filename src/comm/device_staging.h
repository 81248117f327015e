// Device buffers on a host transport (MPI): the caller's device data is copied
// into pinned host memory on the caller's stream, reduced on the host path,
// and copied back. A first, simple form: each copy waits for its stream, so
// the call returns with the result in place. (The GPU path proper — encode on
// the device, stage only the compressed payload, stay stream-ordered — builds on
// the device codecs.) Without CUDA in the build, no pointer is a device pointer.
#pragma once

#include <cstddef>

namespace gw {

// True for memory the CUDA driver knows as device (or managed) memory.
bool is_device_pointer(const void* p);

class DeviceStaging {
 public:
  DeviceStaging() = default;
  DeviceStaging(const DeviceStaging&) = delete;
  DeviceStaging& operator=(const DeviceStaging&) = delete;
  ~DeviceStaging();

  // Pinned host buffer `slot` (0 or 1) of at least `bytes`, grown on demand.
  void* host(int slot, size_t bytes);
  // Copies device -> host buffer `slot` on `stream` and waits for it.
  void* download(int slot, const void* device, size_t bytes, void* stream);
  // Copies host -> device on `stream`; wait() makes it complete.
  void upload(void* device, const void* host, size_t bytes, void* stream);
  void wait(void* stream);

 private:
  void* host_[2] = {nullptr, nullptr};
  size_t capacity_[2] = {0, 0};
};

}  // namespace gw
