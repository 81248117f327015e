#include "src/wire/abandon_notice.h"

#include <cstring>

#include "src/common/error.h"
#include "src/wire/checksum.h"

namespace gw {
namespace {

constexpr uint32_t kNoticeMagic = 0x4e415747u;  // "GWAN"

#pragma pack(push, 1)
struct Notice {
  uint32_t magic;
  uint32_t sender;
  uint64_t seq;
  uint32_t status;
  uint32_t crc;  // CRC32C of the notice with this field 0
};
#pragma pack(pop)
static_assert(sizeof(Notice) == kAbandonNoticeBytes, "abandon notice is 24 bytes");

uint32_t crc_of(Notice n) {
  n.crc = 0;
  return crc32c(&n, sizeof(n));
}

}  // namespace

void write_abandon_notice(uint8_t* out, int sender, uint64_t seq, gw_status status) {
  Notice n;
  n.magic = kNoticeMagic;
  n.sender = static_cast<uint32_t>(sender);
  n.seq = seq;
  n.status = static_cast<uint32_t>(status);
  n.crc = crc_of(n);
  std::memcpy(out, &n, sizeof(n));
}

std::string read_abandon_notice(const uint8_t* msg, size_t bytes, int peer, gw_status* status) {
  *status = GW_ERR_CORRUPT;
  if (bytes != sizeof(Notice))
    return concat_parts("rank ", peer, " sent a malformed abandon notice (", bytes, " bytes, not ", sizeof(Notice),
                        ")");
  Notice n;
  std::memcpy(&n, msg, sizeof(n));
  if (n.magic != kNoticeMagic || n.crc != crc_of(n) || n.sender != static_cast<uint32_t>(peer))
    return concat_parts("rank ", peer, " sent a malformed abandon notice (bad magic, checksum or sender)");
  // The status is cast to gw_status (and named) below: a number outside it is malformed.
  if (n.status >= GW_NUM_STATUS)
    return concat_parts("rank ", peer, " sent a malformed abandon notice (status ", n.status, " is not a gw_status)");
  *status = static_cast<gw_status>(n.status);
  return concat_parts("rank ", peer, " abandoned call #", n.seq, " with ",
                      gw_status_string(static_cast<gw_status>(n.status)), " (see its log)");
}

}  // namespace gw
