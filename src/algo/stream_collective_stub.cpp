// Without CUDA there is no stream-ordered path (and no NCCL transport).
#include "gradwire/gw_config.h"

#if !GW_HAVE_CUDA
#include "src/algo/stream_collective.h"

namespace gw {
std::unique_ptr<StreamCollective> make_stream_collective(int /*device*/) { return nullptr; }
}  // namespace gw
#endif
