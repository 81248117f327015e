// gw-perf's device buffers (--device): thin wrappers over the CUDA runtime so
// the table code stays free of CUDA headers. Without CUDA, available() is
// false and --device is refused.
#pragma once

#include <cstddef>

namespace perf {

bool device_available();
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
