#include "src/scheme/layer_state.h"

#include <algorithm>
#include <cstring>

#include "src/common/error.h"
#include "src/core/device_compressor.h"

namespace gw {

LayerState::~LayerState() { release_device(); }

void LayerState::release_device() {
  if (device_) {
    try {
      device::release(device_);
    } catch (const Error&) {
      // A broken context at exit: nothing left to free into.
    }
  }
  device_ = nullptr;
  device_floats_ = 0;
  on_device_ = false;
}

std::string LayerState::bind(const std::string& spec, size_t count, Feedback mode, size_t extra) {
  if (spec == spec_ && count == count_ && mode == mode_ && extra == extra_) return "";
  std::string dropped;
  if (!empty()) {
    dropped = spec != spec_    ? concat_parts("spec '", spec_, "' -> '", spec, "'")
              : count != count_ ? concat_parts("count ", count_, " -> ", count)
                                : concat_parts("state size ", floats(), " -> ", vectors_of(mode) * count + extra,
                                               " floats (shape changed)");
  }
  spec_ = spec;
  count_ = count;
  mode_ = mode;
  extra_ = extra;
  host_.assign(floats(), 0.0f);
  on_device_ = false;
  needs_init_ = true;
  return dropped;
}

void LayerState::zero() {
  std::fill(host_.begin(), host_.end(), 0.0f);
  on_device_ = false;  // the host copy (zeros) is the current one
  needs_init_ = true;
}

float* LayerState::host() {
  if (on_device_) {
    // A call's last state update may still be queued on its stream (EF21's
    // aggregate step): checkpoints are rare, so wait for the whole device.
    device::synchronize();
    device::copy_to_host(host_.data(), device_, host_.size() * sizeof(float));
    on_device_ = false;
  }
  return host_.data();
}

float* LayerState::device() {
  if (!on_device_) {
    if (device_floats_ < host_.size()) {
      release_device();
      device_ = static_cast<float*>(device::alloc(host_.size() * sizeof(float)));
      device_floats_ = host_.size();
    }
    device::copy_to_device(device_, host_.data(), host_.size() * sizeof(float));
    on_device_ = true;
  }
  return device_;
}

void LayerState::assign(const std::string& spec, size_t count, Feedback mode, size_t extra, const float* values) {
  spec_ = spec;
  count_ = count;
  mode_ = mode;
  extra_ = extra;
  host_.assign(values, values + floats());
  on_device_ = false;
  needs_init_ = floats() == 0;  // a loaded state is complete
}

}  // namespace gw
