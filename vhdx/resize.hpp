// Online resize of a VHDX virtual disk (grow and shrink of the virtual size), crash-safe.
//
// Every on-disk change that gives the resize its meaning (the Virtual Disk Size metadata item,
// BAT entries, the region table when the BAT moves) is committed through the log in ONE entry,
// so after a power cut the disk has either its old or its new size, never a mix. Data written
// beforehand (zeroed tails, a relocated BAT, new fixed blocks) is flushed before that entry.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/disk.hpp"

#include <stdint.h>

namespace halcyon::vhdx {

struct ResizeOptions {
    // Shrinking refuses to drop allocated data beyond the new end (dynamic: blocks that are
    // present; fixed: blocks that hold non-zero bytes) unless this is set, in which case those
    // blocks are released (their space is reclaimed by compact()).
    bool force = false;
};

// Changes the virtual size to new_size (bytes, a non-zero multiple of the logical sector size,
// at most kMaxVirtualSize). Growing: the new range reads as zeros; fixed disks get new blocks
// allocated; when the BAT region is too small for the new size, a larger BAT is written at the
// end of the file and the region table switched to it (the old BAT's space becomes a hole that
// compact() reuses). Differencing disks cannot be resized (their parent chain must have the
// same size).
[[nodiscard]] ErrorOr<void> resize(Disk& disk, uint64_t new_size,
                                   const ResizeOptions& options = {});

} // namespace halcyon::vhdx
