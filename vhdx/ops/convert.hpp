// Copying a virtual disk's contents between images: raw -> VHDX, VHDX -> raw, VHDX -> VHDX
// (fixed <-> dynamic, and flattening a differencing chain into a standalone disk, since a
// VhdxSource reads through the whole chain).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/ops/image.hpp"
#include "vhdx/ops/progress.hpp"

#include <stdint.h>

namespace halcyon::vhdx::ops {

struct ConvertOptions {
    // Bytes copied per step; also the granularity of zero detection. A multiple of the sector
    // size. 1 MiB matches the smallest VHDX block, so a zero MiB never allocates a block.
    uint32_t chunk_size = 1024 * 1024;
    Progress* progress = nullptr;
};

struct ConvertStats {
    uint64_t bytes_total = 0;   // the virtual size
    uint64_t bytes_skipped = 0; // unallocated in the source: not even read
    uint64_t bytes_zero = 0;    // read, found to be zeros, not written
    uint64_t bytes_written = 0;
};

// Copies every non-zero chunk of `source` into `sink` (which must read as zeros to begin with
// and be at least source.size() long), then flushes the sink.
[[nodiscard]] ErrorOr<ConvertStats> copy_image(ImageSource& source, ImageSink& sink,
                                               Allocator& allocator, const ConvertOptions& options);

} // namespace halcyon::vhdx::ops
