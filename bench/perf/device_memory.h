// gw-perf's device buffers (--device): thin wrappers over the CUDA runtime so
// the table code stays free of CUDA headers.
//
// A run on host buffers must never reach the CUDA runtime: on a machine with
// the toolkit but no driver, the first runtime call fails ("CUDA driver version
// is insufficient ..."). So every wrapper taking a pointer or stream is a no-op
// on nullptr (which is what a host run holds), and device_unavailable() is the
// only call that asks the runtime whether a GPU is there.
#pragma once

#include <cstddef>
#include <string>

namespace perf {

// Empty when a CUDA device is usable; otherwise why not (the CUDA error string,
// or that gradwire was built without CUDA).
std::string device_unavailable();
void* device_alloc(size_t bytes);
void device_free(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
// Selects the device of a rank (rank % devices) and returns it.
int select_device(int rank);
void* stream_create();
void stream_sync(void* stream);
void stream_destroy(void* stream);

}  // namespace perf
