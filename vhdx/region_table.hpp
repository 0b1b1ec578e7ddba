// The region table (MS-VHDX 2.2.3): where the BAT and the metadata region live.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"

#include <stdint.h>

namespace halcyon::vhdx {

struct Regions {
    uint64_t bat_offset;
    uint32_t bat_length;
    uint64_t metadata_offset;
    uint32_t metadata_length;
};

// Reads both region tables, uses the first valid one (they must be identical per spec; the
// second is only a fallback for a torn write) and validates the BAT and metadata entries.
// Unknown regions marked required are refused.
[[nodiscard]] ErrorOr<Regions> read_regions(BlockIo& io, Allocator& allocator);

// Writes both copies of a region table describing `regions`.
[[nodiscard]] ErrorOr<void> write_regions(BlockIo& io, Allocator& allocator,
                                          const Regions& regions);

} // namespace halcyon::vhdx
