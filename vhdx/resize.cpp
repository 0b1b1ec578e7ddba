// Online resize. See resize.hpp for the crash-safety argument; the steps are:
//   1. data the new size will expose is made to read as zeros (tail of the old last block) and,
//      for fixed disks, new blocks are allocated; a relocated BAT is written at the file's end;
//      all of it flushed (it is unreferenced until step 2, so a crash only leaks space);
//   2. one log entry carries the size item, the BAT pages that change (new entries zeroed, or
//      released entries cleared) and, when the BAT moved, the region tables;
//   3. the in-memory state switches to the new geometry.
// BAT entries past the end of the (old or new) table are always rewritten when they become part
// of the table, so stale entries left behind by an earlier shrink can never resurface.
#include "vhdx/resize.hpp"

#include "vhdx/crc32c.hpp"
#include "vhdx/disk_impl.hpp"
#include "vhdx/format.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t round_up(uint64_t value, uint64_t to) {
    return (value + to - 1) / to * to;
}

bool is_present(BatEntry entry) {
    return entry.state == uint8_t(BlockState::fully_present) ||
           entry.state == uint8_t(BlockState::partially_present);
}

// True when `length` bytes at file offset `offset` are all zero.
ErrorOr<bool> file_range_is_zero(DiskImpl& d, uint64_t offset, uint64_t length) {
    Buffer buffer = TRY(Buffer::allocate(*d.allocator, length < kMiB ? length : kMiB));
    for (uint64_t done = 0; done < length;) {
        uint64_t step = length - done < buffer.size() ? length - done : buffer.size();
        TRY(d.io->read(offset + done, buffer.span().subspan(0, step)));
        for (uint64_t i = 0; i < step; ++i) {
            if (buffer.data()[i] != 0)
                return false;
        }
        done += step;
    }
    return true;
}

ErrorOr<void> write_zeros(DiskImpl& d, uint64_t offset, uint64_t length) {
    Buffer zeros = TRY(Buffer::allocate(*d.allocator, length < kMiB ? length : kMiB));
    for (uint64_t done = 0; done < length;) {
        uint64_t step = length - done < zeros.size() ? length - done : zeros.size();
        TRY(d.io->write(offset + done, zeros.span().subspan(0, step)));
        done += step;
    }
    return {};
}

// The pages holding the Virtual Disk Size item, read from the file and patched to new_size.
// The item is 8 bytes; it may straddle a page boundary, hence up to two pages.
ErrorOr<LogUpdate> stage_size_item(DiskImpl& d, uint64_t new_size, Buffer& scratch) {
    int index = d.metadata.find(format::kVirtualDiskSizeItem);
    if (index < 0)
        return Error(ErrorCode::corrupt, "resize: the disk has no virtual disk size item");
    const format::MetadataTableEntry& entry = d.metadata.entry(static_cast<uint32_t>(index));
    if (entry.length != sizeof(uint64_t))
        return Error(ErrorCode::corrupt, "resize: the virtual disk size item is not 8 bytes");
    uint64_t item = d.metadata.region_offset() + entry.offset;
    uint64_t first_page = item / kPage * kPage;
    uint64_t end_page = round_up(item + sizeof(uint64_t), kPage);
    scratch = TRY(Buffer::allocate(*d.allocator, end_page - first_page));
    TRY(d.io->read(first_page, scratch.span()));
    memcpy(scratch.data() + (item - first_page), &new_size, sizeof new_size);
    return LogUpdate{first_page, scratch.size(), scratch.data()};
}

// Both region tables with the BAT entry pointing at (offset, length): only the changed 4 KiB
// pages are returned as updates (normally the first page of each copy). Other regions (unknown,
// optional ones) are preserved.
ErrorOr<size_t> stage_region_tables(DiskImpl& d, uint64_t offset, uint32_t length,
                                    Buffer (&tables)[2], Buffer (&originals)[2], LogUpdate* updates,
                                    size_t capacity) {
    size_t count = 0;
    for (int copy = 0; copy < 2; ++copy) {
        tables[copy] = TRY(Buffer::allocate(*d.allocator, format::kRegionTableSize));
        originals[copy] = TRY(Buffer::allocate(*d.allocator, format::kRegionTableSize));
        TRY(d.io->read(format::kRegionTableOffset[copy], originals[copy].span()));
        memcpy(tables[copy].data(), originals[copy].data(), format::kRegionTableSize);
        auto* header = tables[copy].as<format::RegionTableHeader>();
        // A copy that is not a valid table (torn earlier, say) is rewritten from copy 0.
        bool valid = header->signature == format::kRegionSignature &&
                     header->entry_count <= format::kMaxRegionEntries &&
                     crc32c_with_zero_field(tables[copy].span(),
                                            offsetof(format::RegionTableHeader, checksum)) ==
                         header->checksum;
        if (!valid) {
            if (copy == 0)
                return Error(ErrorCode::corrupt, "resize: region table 1 is not valid");
            memcpy(tables[1].data(), tables[0].data(), format::kRegionTableSize);
            header = tables[copy].as<format::RegionTableHeader>();
        }
        auto* entries =
            tables[copy].as<format::RegionTableEntry>(sizeof(format::RegionTableHeader));
        bool found = false;
        for (uint32_t i = 0; i < header->entry_count; ++i) {
            if (entries[i].guid == format::kBatRegion) {
                entries[i].file_offset = offset;
                entries[i].length = length;
                found = true;
            }
        }
        if (!found)
            return Error(ErrorCode::corrupt, "resize: region table has no BAT entry");
        header->checksum = 0;
        header->checksum = crc32c_with_zero_field(tables[copy].span(),
                                                  offsetof(format::RegionTableHeader, checksum));
        for (uint64_t page = 0; page < format::kRegionTableSize; page += kPage) {
            if (memcmp(tables[copy].data() + page, originals[copy].data() + page, kPage) == 0)
                continue;
            if (count == capacity)
                return Error(ErrorCode::not_supported, "resize: region table change too large");
            updates[count++] = {format::kRegionTableOffset[copy] + page, kPage,
                                tables[copy].data() + page};
        }
    }
    return count;
}

// Refuses a shrink that would drop data, unless forced.
ErrorOr<void> check_shrink(DiskImpl& d, const BatGeometry& new_g, bool force) {
    if (force)
        return {};
    const BatGeometry& old_g = d.bat.geometry();
    for (uint64_t block = new_g.payload_blocks; block < old_g.payload_blocks; ++block) {
        BatEntry entry = d.bat.payload(block);
        if (!is_present(entry))
            continue;
        // A fixed disk has every block allocated; only its contents say whether it is in use.
        if (d.parameters.leave_blocks_allocated) {
            uint64_t start = block * old_g.block_size;
            uint64_t end = start + old_g.block_size;
            if (end > old_g.virtual_size)
                end = old_g.virtual_size;
            if (TRY(file_range_is_zero(d, entry.file_offset, end - start)))
                continue;
        }
        return Error(ErrorCode::busy,
                     "resize: allocated data lies beyond the new end of the disk (use force to "
                     "discard it)");
    }
    return {};
}

// Growing exposes the bytes between the old end and the old last block's end: make them zero.
ErrorOr<bool> zero_old_tail(DiskImpl& d, uint64_t old_size, uint64_t new_size) {
    uint64_t block_size = d.parameters.block_size;
    if (old_size % block_size == 0)
        return false;
    uint64_t block = old_size / block_size;
    BatEntry entry = d.bat.payload(block);
    if (entry.state != uint8_t(BlockState::fully_present))
        return false; // every other state of a disk without parent reads zeros there
    uint64_t block_end = (block + 1) * block_size;
    uint64_t end = new_size < block_end ? new_size : block_end;
    TRY(write_zeros(d, entry.file_offset + old_size % block_size, end - old_size));
    return true;
}

} // namespace

ErrorOr<void> resize(Disk& disk, uint64_t new_size, const ResizeOptions& options) {
    DiskImpl& d = disk.impl();
    if (d.read_only)
        return Error(ErrorCode::permission, "resize: the disk is open read-only");
    if (d.parameters.has_parent)
        return Error(ErrorCode::not_supported,
                     "resize: a differencing disk must keep its parent's size");
    if (new_size == 0 || new_size % d.parameters.logical_sector_size != 0)
        return Error(ErrorCode::invalid_argument,
                     "resize: size must be a non-zero multiple of the logical sector size");
    if (new_size > kMaxVirtualSize)
        return Error(ErrorCode::invalid_argument, "resize: size exceeds the 64 TiB maximum");
    uint64_t old_size = d.parameters.virtual_size;
    if (new_size == old_size)
        return {};
    const BatGeometry old_g = d.bat.geometry();
    BatGeometry new_g = BatGeometry::compute(new_size, d.parameters.block_size,
                                             d.parameters.logical_sector_size, false);
    if (new_g.region_bytes() > 0xFFF00000ull)
        return Error(ErrorCode::invalid_argument, "resize: BAT too large for this block size");
    bool growing = new_size > old_size;
    if (!growing)
        TRY(check_shrink(d, new_g, options.force));
    TRY(d.prepare_change(true, true));

    // The new table: old entries that stay, zeros for the rest (new blocks, released blocks).
    bool relocate = new_g.region_bytes() > d.regions.bat_length;
    uint64_t bat_offset = d.regions.bat_offset;
    uint32_t bat_length = d.regions.bat_length;
    if (relocate) {
        bat_length = static_cast<uint32_t>(new_g.region_bytes());
        // Reserve the space now (file end, 1 MiB aligned) so fixed blocks go after it.
        bat_offset = TRY(d.allocate_space(bat_length));
    }
    Bat new_bat = TRY(Bat::create_empty(*d.allocator, new_g, bat_offset));
    uint64_t kept =
        old_g.total_entries < new_g.total_entries ? old_g.total_entries : new_g.total_entries;
    for (uint64_t index = 0; index < kept; ++index)
        new_bat.set(index, d.bat.get(index));

    bool wrote_data = false;
    if (growing) {
        wrote_data = TRY(zero_old_tail(d, old_size, new_size));
        if (d.parameters.leave_blocks_allocated) {
            // Fixed disks: every block is allocated up front; fresh file space reads zeros.
            uint64_t blocks = new_g.payload_blocks - old_g.payload_blocks;
            if (blocks > 0) {
                uint64_t offset = TRY(d.allocate_space(blocks * new_g.block_size));
                for (uint64_t b = 0; b < blocks; ++b)
                    new_bat.set(
                        new_g.payload_index(old_g.payload_blocks + b),
                        {uint8_t(BlockState::fully_present), offset + b * new_g.block_size});
                wrote_data = true;
            }
        }
    }
    if (relocate) {
        TRY(d.io->write(bat_offset, new_bat.bytes()));
        wrote_data = true;
    }
    if (wrote_data || relocate)
        TRY(d.io->flush()); // everything the log entry will reference is durable first

    // One log entry: BAT pages, region tables (when moved), then the size item. The log writer
    // splits only when an entry would exceed half the log; the pages of a fixed disk's new
    // blocks may, so the size item goes last: any earlier entry only touches BAT entries past
    // the old end, which nothing reads until the size changes.
    constexpr size_t kMaxUpdates = 64;
    LogUpdate updates[kMaxUpdates];
    size_t count = 0;
    Buffer tables[2], originals[2];
    if (relocate) {
        count += TRY(stage_region_tables(d, bat_offset, bat_length, tables, originals, updates,
                                         kMaxUpdates - 2));
    } else {
        // In place: rewrite every page of the table that holds entries which change meaning,
        // i.e. from the first entry past the shorter table to the end of the longer one.
        uint64_t first_page = kept * 8 / kPage;
        uint64_t longer =
            old_g.total_entries > new_g.total_entries ? old_g.total_entries : new_g.total_entries;
        uint64_t end_page = round_up(longer * 8, kPage) / kPage;
        uint64_t new_pages = round_up(new_g.total_entries * 8, kPage) / kPage;
        uint64_t data_end = end_page < new_pages ? end_page : new_pages;
        for (uint64_t page = first_page; page < data_end; ++page) {
            if (count == kMaxUpdates - 2) {
                TRY(d.commit({updates, count}));
                count = 0;
            }
            updates[count++] = new_bat.page_update(page * kPage / 8);
        }
        if (end_page > data_end)
            updates[count++] = {bat_offset + data_end * kPage, (end_page - data_end) * kPage,
                                nullptr};
    }
    Buffer size_page;
    updates[count++] = TRY(stage_size_item(d, new_size, size_page));
    TRY(d.commit({updates, count}));

    d.bat = static_cast<Bat&&>(new_bat);
    d.regions.bat_offset = bat_offset;
    d.regions.bat_length = bat_length;
    d.parameters.virtual_size = new_size;
    return {};
}

} // namespace halcyon::vhdx
