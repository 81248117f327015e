#include "src/scheme/excluded_section.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "src/robust/peer_rule.h"

namespace gw {
namespace {

std::string list_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) s += concat_parts(i ? ", " : "", ranks[i]);
  return s.empty() ? std::string("none") : s;
}

}  // namespace

void write_excluded_section(RecordWriter& w, const ExcludedRanks& ex) {
  w.put(static_cast<uint32_t>(ex.world));
  w.put(static_cast<uint32_t>(ex.ranks.size()));
  for (int r : ex.ranks) w.put(static_cast<uint32_t>(r));
}

ExcludedRanks read_excluded_section(RecordReader& r) {
  const std::string& name = r.layer();
  const uint32_t world = r.get<uint32_t>("world size");
  const uint32_t count = r.get<uint32_t>("excluded count");
  GW_REQUIRE(world <= static_cast<uint32_t>(std::numeric_limits<int>::max()), GW_ERR_CORRUPT, "state for layer '",
             name, "': world size ", world);
  // Checked before reading a rank: a count that lies never sizes anything.
  GW_REQUIRE(count <= world, GW_ERR_CORRUPT, "state for layer '", name, "': ", count, " excluded ranks of ", world);
  GW_REQUIRE(r.left() >= 4 && count <= (r.left() - 4) / 4, GW_ERR_CORRUPT, "state for layer '", name, "': ", count,
             " excluded ranks do not fit in the record");
  ExcludedRanks ex;
  ex.world = static_cast<int>(world);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t rank = r.get<uint32_t>("excluded rank");
    GW_REQUIRE(rank < world, GW_ERR_CORRUPT, "state for layer '", name, "': excluded rank ", rank, " of ", world,
               " ranks");
    // The saver writes the set ascending: a repeat or a step back is damage.
    GW_REQUIRE(ex.ranks.empty() || static_cast<int>(rank) > ex.ranks.back(), GW_ERR_CORRUPT, "state for layer '",
               name, "': excluded rank ", rank, " after rank ", ex.ranks.back(), " (repeated or out of order)");
    ex.ranks.push_back(static_cast<int>(rank));
  }
  return ex;
}

void check_excluded_fit(const ExcludedRanks& rec, int world, const std::vector<int>& now, const std::string& name) {
  if (rec.ranks.empty()) return;
  GW_REQUIRE(rec.world == world, GW_ERR_INVALID_ARGUMENT, "state for layer '", name, "': its excluded ranks (",
             list_ranks(rec.ranks), ") were saved on ", rec.world, " ranks, this communicator has ", world);
  std::vector<int> all;
  std::set_union(now.begin(), now.end(), rec.ranks.begin(), rec.ranks.end(), std::back_inserter(all));
  GW_REQUIRE(keeps_majority(static_cast<size_t>(world) - all.size(), static_cast<size_t>(world)),
             GW_ERR_INVALID_ARGUMENT, "state for layer '", name, "': its excluded ranks (", list_ranks(rec.ranks),
             ") with those excluded now (", list_ranks(now), ") would leave ", world - static_cast<int>(all.size()),
             " of ", world, " ranks, not a majority");
}

}  // namespace gw
