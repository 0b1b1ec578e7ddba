// The read side of the VHDX log (MS-VHDX 2.3.3): find the active sequence and apply it.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/guid.hpp"

#include <stdint.h>

namespace halcyon::vhdx {

struct ReplayResult {
    bool found;       // an active sequence with the header's LogGuid existed
    uint32_t entries; // entries applied
    uint64_t head_sequence;
};

// Searches the log for the active sequence: runs of valid entries (signature, CRC-32C,
// matching log_guid, descriptors and data sectors carrying the entry's sequence number) at
// consecutive positions with consecutive sequence numbers, whose newest entry's tail points at
// an entry of the run; the run with the highest sequence number wins. Then, unless only
// inspecting (apply == false), applies its entries from tail to head, extends the file to the
// head's LastFileOffset and flushes. Refuses when the file is shorter than the head's
// FlushedFileOffset (writes the log depends on were lost). Clearing LogGuid in the headers is
// the caller's job.
[[nodiscard]] ErrorOr<ReplayResult> replay_log(BlockIo& io, Allocator& allocator,
                                               const Guid& log_guid, uint64_t log_offset,
                                               uint32_t log_length, bool apply);

} // namespace halcyon::vhdx
