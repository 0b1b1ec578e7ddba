// The block allocation table (MS-VHDX 2.5): geometry (chunk ratio, interleaving of payload and
// sector bitmap entries) and the in-memory copy the disk works from.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/buffer.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/log_update.hpp"

#include <stdint.h>

namespace halcyon::vhdx {

struct BatGeometry {
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t logical_sector_size;
    bool has_parent;
    uint64_t chunk_ratio; // payload blocks per sector bitmap block
    uint64_t payload_blocks;
    uint64_t sector_bitmap_blocks; // chunks
    uint64_t total_entries;
    uint64_t sectors_per_block;

    [[nodiscard]] static BatGeometry compute(uint64_t virtual_size, uint32_t block_size,
                                             uint32_t logical_sector_size, bool has_parent);
    // BAT index of payload block `block`: every chunk_ratio payload entries are followed by
    // one sector bitmap entry.
    [[nodiscard]] uint64_t payload_index(uint64_t block) const {
        return block + block / chunk_ratio;
    }
    [[nodiscard]] uint64_t bitmap_index(uint64_t chunk) const {
        return chunk * (chunk_ratio + 1) + chunk_ratio;
    }
    // Bytes of BAT region needed (rounded up to 1 MiB, as regions must be).
    [[nodiscard]] uint64_t region_bytes() const {
        return (total_entries * 8 + kMiB - 1) / kMiB * kMiB;
    }
};

struct BatEntry {
    uint8_t state;
    uint64_t file_offset; // bytes (FileOffsetMB x 1 MiB)

    [[nodiscard]] static BatEntry decode(uint64_t raw) {
        return {static_cast<uint8_t>(raw & 7), (raw >> 20) << 20};
    }
    [[nodiscard]] uint64_t encode() const { return (file_offset >> 20) << 20 | state; }
};

// File areas no block may overlap (header section, log, metadata, BAT).
struct ReservedAreas {
    uint64_t start[3];
    uint64_t length[3];
};

class Bat {
public:
    [[nodiscard]] static ErrorOr<Bat> load(BlockIo& io, Allocator& allocator,
                                           const BatGeometry& geometry, uint64_t offset,
                                           uint32_t length);
    [[nodiscard]] static ErrorOr<Bat> create_empty(Allocator& allocator,
                                                   const BatGeometry& geometry, uint64_t offset);

    // Checks every entry: allowed state for the disk type, block inside the file, not on top
    // of the header section, log, metadata or BAT.
    [[nodiscard]] ErrorOr<void> validate(uint64_t file_size, const ReservedAreas& reserved) const;

    [[nodiscard]] BatEntry get(uint64_t index) const {
        return BatEntry::decode(entries_.as<uint64_t>()[index]);
    }
    void set(uint64_t index, BatEntry entry) { entries_.as<uint64_t>()[index] = entry.encode(); }
    [[nodiscard]] BatEntry payload(uint64_t block) const {
        return get(geometry_.payload_index(block));
    }
    [[nodiscard]] BatEntry bitmap(uint64_t chunk) const {
        return get(geometry_.bitmap_index(chunk));
    }

    // The 4 KiB page holding entry `index`, as a log update of the BAT region.
    [[nodiscard]] LogUpdate page_update(uint64_t index) const;
    [[nodiscard]] std::span<const uint8_t> bytes() const { return entries_.span(); }
    [[nodiscard]] const BatGeometry& geometry() const { return geometry_; }
    [[nodiscard]] BlockStateCounts count_states() const;

private:
    Buffer entries_; // whole 4 KiB pages of the BAT region
    BatGeometry geometry_{};
    uint64_t offset_ = 0;
};

} // namespace halcyon::vhdx
