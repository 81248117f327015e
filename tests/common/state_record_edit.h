// Edits of saved state records (src/scheme/state_record.h, version 5) for the
// loader's tests, unit, multi-rank and fuzz: where a field lies, the record as
// an older version wrote it, a rewritten excluded set, a fresh CRC. The
// record must be one save_state_record wrote (or that loaded): nothing here
// checks bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "src/wire/checksum.h"

namespace gw_record {

template <typename T>
T field_at(const std::vector<uint8_t>& rec, size_t at) {
  T v;
  std::memcpy(&v, rec.data() + at, sizeof(T));
  return v;
}

template <typename T>
void set_field(std::vector<uint8_t>& rec, size_t at, T v) {
  std::memcpy(rec.data() + at, &v, sizeof(T));
}

// The CRC32C of everything before it, after an edit.
inline void reseal(std::vector<uint8_t>& rec) {
  set_field(rec, rec.size() - 4, gw::crc32c(rec.data(), rec.size() - 4));
}

// The u32 spec length: after magic, version, layer hash, step and the statistics.
constexpr size_t kSpecLengthAt = 4 + 4 + 8 + 8 + 6 * 8 + 4 * 8;

// The u32 `vectors` field: the spec, the feedback mode, three zero bytes and the count before it.
inline size_t vectors_at(const std::vector<uint8_t>& rec) {
  return kSpecLengthAt + 4 + field_at<uint32_t>(rec, kSpecLengthAt) + 4 + 8;
}

// The rule section's u32 length: after the scheme state (vectors x count + extra floats).
inline size_t rule_at(const std::vector<uint8_t>& rec) {
  const size_t v = vectors_at(rec);
  const uint64_t floats = field_at<uint32_t>(rec, v) * field_at<uint64_t>(rec, v - 8) + field_at<uint64_t>(rec, v + 4);
  return v + 4 + 8 + static_cast<size_t>(floats) * sizeof(float);
}

// The rule section's six u64 (rule count, calls, long steps, short steps, center floats, window floats).
inline size_t rule_fields_at(const std::vector<uint8_t>& rec) {
  const size_t r = rule_at(rec);
  return r + 4 + field_at<uint32_t>(rec, r);
}

// The excluded section (u32 world, u32 ranks, the ranks): after the rule's floats.
inline size_t excluded_at(const std::vector<uint8_t>& rec) {
  const size_t f = rule_fields_at(rec);
  const uint64_t floats = field_at<uint64_t>(rec, f + 32) + field_at<uint64_t>(rec, f + 40);
  return f + 6 * 8 + static_cast<size_t>(floats) * sizeof(float);
}

// The record as version `version` (4, 3 or 2) wrote it: no excluded section
// (4), no rule section either (3), and no `extra` field (2: it must be zero).
inline std::vector<uint8_t> as_version(std::vector<uint8_t> rec, uint32_t version) {
  const size_t cut = version >= 4 ? excluded_at(rec) : rule_at(rec);
  rec.erase(rec.begin() + static_cast<long>(cut), rec.end() - 4);
  if (version <= 2) {
    const size_t extra = vectors_at(rec) + 4;
    rec.erase(rec.begin() + static_cast<long>(extra), rec.begin() + static_cast<long>(extra + 8));
  }
  set_field(rec, 4, version);
  reseal(rec);
  return rec;
}

// The record with its excluded section rewritten to `world`, `count` and
// `ranks` as given (a test's lies included: `count` need not be ranks.size()).
inline std::vector<uint8_t> with_excluded(std::vector<uint8_t> rec, uint32_t world, uint32_t count,
                                          const std::vector<uint32_t>& ranks) {
  const size_t at = excluded_at(rec);
  std::vector<uint8_t> section(8 + 4 * ranks.size());
  std::memcpy(section.data(), &world, 4);
  std::memcpy(section.data() + 4, &count, 4);
  if (!ranks.empty()) std::memcpy(section.data() + 8, ranks.data(), 4 * ranks.size());
  rec.erase(rec.begin() + static_cast<long>(at), rec.end() - 4);
  rec.insert(rec.end() - 4, section.begin(), section.end());
  reseal(rec);
  return rec;
}
inline std::vector<uint8_t> with_excluded(std::vector<uint8_t> rec, uint32_t world,
                                          const std::vector<uint32_t>& ranks) {
  return with_excluded(std::move(rec), world, static_cast<uint32_t>(ranks.size()), ranks);
}

}  // namespace gw_record
