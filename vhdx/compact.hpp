// Compaction: gives back the file space of trimmed, released and leaked blocks.
//
// Blocks are moved from the end of the file into holes nearer its start, one at a time: the
// block's bytes are copied into the hole and flushed, then its BAT entry is switched to the new
// place through the log (one entry, applied and flushed). A power cut before that entry is
// durable leaves the block where it was (the copy is unreferenced space); after it, the block is
// in its new place. Once nothing lies past the new end, the log generation is closed (LogGuid
// cleared, every entry being applied already) and the file is truncated: entries of the old
// generation recorded the larger size as FlushedFileOffset, and a replay must never meet a file
// shorter than that.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/disk.hpp"

#include <stdint.h>

namespace halcyon::vhdx {

struct CompactResult {
    uint64_t blocks_moved;    // payload and sector bitmap blocks relocated
    uint64_t entries_cleared; // non-present BAT entries that still named file space
    uint64_t old_file_size;
    uint64_t new_file_size;
};

[[nodiscard]] ErrorOr<CompactResult> compact(Disk& disk);

} // namespace halcyon::vhdx
