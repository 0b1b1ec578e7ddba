// The metadata region (MS-VHDX 2.6): the table and the system items every disk has.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/buffer.hpp"
#include "vhdx/format.hpp"
#include "vhdx/log_update.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vhdx {

// What the system items say about the virtual disk.
struct DiskParameters {
    uint32_t block_size;
    bool leave_blocks_allocated;
    bool has_parent;
    uint64_t virtual_size;
    Guid disk_id;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
};

// Checks the values allowed by the spec and by this implementation.
[[nodiscard]] ErrorOr<void> validate_parameters(const DiskParameters& parameters);

class MetadataTable {
public:
    // Reads and validates the table (entries inside the region, no overlaps, no duplicates,
    // every required system item known and present, no unknown required item).
    [[nodiscard]] static ErrorOr<MetadataTable>
    load(BlockIo& io, Allocator& allocator, uint64_t region_offset, uint32_t region_length);
    // A table for a new disk holding the system items (and the parent locator when given);
    // write_new() then writes table and items to the region.
    [[nodiscard]] static ErrorOr<MetadataTable>
    build_new(Allocator& allocator, uint64_t region_offset, uint32_t region_length,
              const DiskParameters& parameters, std::span<const uint8_t> parent_locator);
    [[nodiscard]] ErrorOr<void> write_new(BlockIo& io, Allocator& allocator,
                                          const DiskParameters& parameters,
                                          std::span<const uint8_t> parent_locator);

    [[nodiscard]] ErrorOr<DiskParameters> read_parameters(BlockIo& io) const;

    [[nodiscard]] uint32_t count() const { return header()->entry_count; }
    [[nodiscard]] const format::MetadataTableEntry& entry(uint32_t index) const {
        return entries()[index];
    }
    // Index of the item, or -1.
    [[nodiscard]] int find(const Guid& id) const;
    // Reads a whole item into a new buffer.
    [[nodiscard]] ErrorOr<Buffer> read_item(BlockIo& io, Allocator& allocator,
                                            uint32_t index) const;

    // Prepares the log updates that create/replace (data != nullptr) or delete a user item.
    // `scratch` receives the new table (64 KiB) followed by the item's pages; the updates point
    // into it. On success the in-memory table is NOT yet changed: call commit_staged() once the
    // log entry is committed.
    [[nodiscard]] ErrorOr<uint32_t> stage_user_item(BlockIo& io, Allocator& allocator,
                                                    const Guid& id, const uint8_t* data,
                                                    uint32_t length, bool is_virtual_disk,
                                                    Buffer& scratch, LogUpdate (&updates)[2]);
    void commit_staged(const Buffer& scratch);

    [[nodiscard]] uint64_t region_offset() const { return region_offset_; }
    [[nodiscard]] uint32_t region_length() const { return region_length_; }

private:
    [[nodiscard]] const format::MetadataTableHeader* header() const {
        return table_.as<format::MetadataTableHeader>();
    }
    [[nodiscard]] const format::MetadataTableEntry* entries() const {
        return table_.as<format::MetadataTableEntry>(sizeof(format::MetadataTableHeader));
    }
    [[nodiscard]] ErrorOr<void> read_fixed_item(BlockIo& io, const Guid& id, void* out,
                                                uint32_t size) const;

    Buffer table_;
    uint64_t region_offset_ = 0;
    uint32_t region_length_ = 0;
};

} // namespace halcyon::vhdx
