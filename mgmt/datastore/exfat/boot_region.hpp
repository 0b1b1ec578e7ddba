// The boot region (section 3): parsing and validating the geometry a volume describes, and
// building the region for format.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/layout.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::exfat {

// Everything the boot sector says about where things are, validated against the spec's ranges.
struct Geometry {
    uint32_t sector_shift = 9;
    uint32_t cluster_shift = 12; // log2 of the cluster size in bytes
    uint64_t volume_sectors = 0;
    uint32_t fat_offset = 0; // sectors
    uint32_t fat_length = 0; // sectors
    uint32_t heap_offset = 0;
    uint32_t cluster_count = 0;
    uint32_t root_cluster = 0;
    uint32_t serial = 0;
    uint16_t revision = layout::kRevision;
    uint16_t volume_flags = 0;

    [[nodiscard]] uint32_t sector_size() const { return 1u << sector_shift; }
    [[nodiscard]] uint32_t cluster_size() const { return 1u << cluster_shift; }
    [[nodiscard]] uint32_t sectors_per_cluster_shift() const {
        return cluster_shift - sector_shift;
    }
    [[nodiscard]] bool valid_cluster(uint32_t cluster) const {
        return cluster >= layout::kFirstCluster && cluster - layout::kFirstCluster < cluster_count;
    }
    [[nodiscard]] uint64_t cluster_sector(uint32_t cluster) const {
        return heap_offset +
               (uint64_t(cluster - layout::kFirstCluster) << sectors_per_cluster_shift());
    }
    [[nodiscard]] uint64_t heap_bytes() const { return uint64_t(cluster_count) << cluster_shift; }
};

// Validates one boot region (12 sectors of `sector_size` bytes) read from a device of
// `device_sectors` sectors: signatures, checksum, every field range and the layout of the
// regions. The error message names the first thing found wrong.
[[nodiscard]] ErrorOr<Geometry> parse_boot_region(std::span<const uint8_t> region,
                                                  uint32_t sector_size, uint64_t device_sectors);

// True when two boot regions hold the same content apart from the fields the spec lets the
// main one change without the backup (VolumeFlags, PercentInUse).
[[nodiscard]] bool boot_regions_match(std::span<const uint8_t> main,
                                      std::span<const uint8_t> backup);

// Fills `region` (12 sectors, zeroed by the caller) with a boot region for `geometry`.
void build_boot_region(const Geometry& geometry, std::span<uint8_t> region);

} // namespace halcyon::exfat
