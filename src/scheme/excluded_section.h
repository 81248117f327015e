// The excluded-ranks section of a state record (version 5, after the rule
// section; src/scheme/state_record.h): the ranks a robust rule removed for
// good from the communicator (Communicator::excluded_ranks). The set is the
// communicator's, not the layer's, but a checkpoint holds only layer records:
// every layer that has a rule carries it, so that a rank SafeguardSGD removed
// does not count again after a resume.
//
//   u32 world   the communicator's ranks when saved (0: the record names no rule)
//   u32 ranks   how many follow
//   u32 x ranks the excluded ranks, ascending, each below world
//
// The bytes are untrusted: a section the saver cannot have written is
// GW_ERR_CORRUPT; one that is well formed but does not fit this communicator
// is GW_ERR_INVALID_ARGUMENT.
#pragma once

#include <string>
#include <vector>

#include "src/scheme/record_io.h"

namespace gw {

struct ExcludedRanks {
  int world = 0;           // ranks of the communicator the set belongs to; 0: none
  std::vector<int> ranks;  // ascending, each in [0, world)
};

void write_excluded_section(RecordWriter& w, const ExcludedRanks& excluded);

// GW_ERR_CORRUPT for more ranks than the record holds or than `world`, ranks
// out of order or repeated, a rank at or past `world`, or ranks with world 0.
ExcludedRanks read_excluded_section(RecordReader& r);

// GW_ERR_INVALID_ARGUMENT unless the record's ranks fit a communicator of
// `world` ranks that has excluded `now` (ascending) already: the same number
// of ranks (rank numbers of another communicator mean nothing here), and the
// union leaves a majority. A record that lists no ranks fits any communicator
// (its rule state checks the world size where that matters).
void check_excluded_fit(const ExcludedRanks& record, int world, const std::vector<int>& now,
                        const std::string& layer);

}  // namespace gw
