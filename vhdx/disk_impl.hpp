// The state behind a Disk (internal). Split over disk_open.cpp (open, close, info, metadata),
// disk_create.cpp (create), disk_read.cpp and disk_write.cpp (guest I/O, trim).
#pragma once

#include "vhdx/bat.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/header.hpp"
#include "vhdx/log_writer.hpp"
#include "vhdx/metadata.hpp"
#include "vhdx/parent_locator.hpp"
#include "vhdx/region_table.hpp"

namespace halcyon::vhdx {

struct DiskImpl {
    DiskImpl() : facade(this) {}

    Disk facade;
    BlockIo* io = nullptr;
    Allocator* allocator = nullptr;
    RandomSource* random = nullptr;
    ParentResolver* resolver = nullptr;
    bool read_only = true;
    bool log_replayed = false;
    bool file_write_guid_renewed = false;
    bool data_write_guid_renewed = false;

    CurrentHeader header{};
    Regions regions{};
    MetadataTable metadata;
    DiskParameters parameters{};
    Bat bat;
    LogWriter log;
    ParsedParentLocator locator;
    Disk* parent = nullptr;
    BlockIo* parent_io = nullptr;
    uint64_t file_size = 0; // kept in step with every set_size()

    [[nodiscard]] static ErrorOr<Disk*> open(BlockIo& io, Allocator& allocator,
                                             const OpenOptions& options, uint32_t depth);
    // Frees this object and closes the parent chain (without writing anything).
    void destroy();

    // Before the first change after open: a new FileWriteGuid (and, for guest-visible
    // changes, a new DataWriteGuid; with needs_log, a LogGuid to start the log), all in one
    // header update.
    [[nodiscard]] ErrorOr<void> prepare_change(bool guest_visible, bool needs_log);
    // Logs and applies metadata updates (prepare_change(…, true) must have run).
    [[nodiscard]] ErrorOr<void> commit(std::span<const LogUpdate> updates);
    // Appends `bytes` of fresh (zero) space at a 1 MiB aligned offset at the end of the file.
    [[nodiscard]] ErrorOr<uint64_t> allocate_space(uint64_t bytes);

    [[nodiscard]] ErrorOr<void> check_range(uint64_t offset, uint64_t length) const;
    [[nodiscard]] ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer);
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data);
    [[nodiscard]] ErrorOr<void> trim(uint64_t offset, uint64_t length);

    // Sector bitmap bits of `block` for sectors [first, first + count) of the block, read into
    // bits (bit i = sector first + i). Needs the chunk's sector bitmap block present.
    [[nodiscard]] ErrorOr<void> read_bitmap(uint64_t block, uint64_t first, uint64_t count,
                                            uint8_t* bits);

private:
    [[nodiscard]] ErrorOr<void> read_block(uint64_t block, uint64_t in_block,
                                           std::span<uint8_t> buffer);
    [[nodiscard]] ErrorOr<void> read_partial(uint64_t block, uint64_t file_offset,
                                             uint64_t in_block, std::span<uint8_t> buffer);
    [[nodiscard]] ErrorOr<void> read_parent(uint64_t offset, std::span<uint8_t> buffer);
    [[nodiscard]] ErrorOr<void> write_block(uint64_t block, uint64_t in_block,
                                            std::span<const uint8_t> data);
    [[nodiscard]] ErrorOr<void> write_differencing(uint64_t block, uint64_t in_block,
                                                   std::span<const uint8_t> data);
};

} // namespace halcyon::vhdx
