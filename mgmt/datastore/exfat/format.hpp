// Making a new exFAT volume (mkfs).
#pragma once

#include "mgmt/datastore/exfat/clock.hpp"
#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <stdint.h>
#include <string_view>

namespace halcyon::exfat {

struct FormatOptions {
    // Bytes per cluster (a power of two, sector size .. 32 MiB); 0 picks by volume size:
    // 4 KiB below 256 MiB, 32 KiB below 32 GiB, 128 KiB above (as Windows and exfatprogs do).
    uint32_t cluster_size = 0;
    std::string_view label;      // up to 11 UTF-16 characters
    uint32_t serial = 0;         // 0: derived from the clock
    uint64_t volume_sectors = 0; // 0: the whole device
};

// Chosen layout, for tools and tests.
struct FormatResult {
    uint32_t cluster_size;
    uint32_t cluster_count;
    uint32_t fat_offset;
    uint32_t fat_length;
    uint32_t heap_offset;
    uint32_t serial;
};

// Writes a new, empty volume: FAT, allocation bitmap, the recommended up-case table and a root
// directory, then (last, after a flush) the main and backup boot regions, so an interrupted
// format never leaves a mountable half-made volume.
[[nodiscard]] ErrorOr<FormatResult> format(SectorDevice& device, Allocator& allocator, Clock& clock,
                                           const FormatOptions& options = {});

} // namespace halcyon::exfat
