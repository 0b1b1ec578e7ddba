// Guest writes and trim. Ordering rule for every allocation: the guest data (and the file's new
// size) is written and flushed BEFORE the log entry carrying the BAT / sector bitmap change that
// makes it visible. A crash before that entry is durable leaves the new space unreferenced
// (leaked until compaction) and the old contents visible; never a BAT entry pointing at
// unwritten bytes.
#include "vhdx/disk_impl.hpp"

#include <string.h>

namespace halcyon::vhdx {

ErrorOr<void> DiskImpl::write(uint64_t offset, std::span<const uint8_t> data) {
    TRY(check_range(offset, data.size()));
    if (data.empty())
        return {};
    // A new FileWriteGuid and DataWriteGuid before the first byte changes (MS-VHDX 2.2.2).
    // Dynamic and differencing disks may allocate, which is logged: start the log in the same
    // header update.
    TRY(prepare_change(true, !parameters.leave_blocks_allocated));
    uint64_t block_size = parameters.block_size;
    size_t done = 0;
    while (done < data.size()) {
        uint64_t position = offset + done;
        uint64_t block = position / block_size;
        uint64_t in_block = position % block_size;
        size_t step =
            static_cast<size_t>(block_size - in_block < data.size() - done ? block_size - in_block
                                                                           : data.size() - done);
        TRY(write_block(block, in_block, data.subspan(done, step)));
        done += step;
    }
    return {};
}

ErrorOr<void> DiskImpl::write_block(uint64_t block, uint64_t in_block,
                                    std::span<const uint8_t> data) {
    BatEntry entry = bat.payload(block);
    auto state = static_cast<BlockState>(entry.state);
    if (state == BlockState::fully_present)
        return io->write(entry.file_offset + in_block, data);
    bool whole_block = in_block == 0 && data.size() == parameters.block_size;
    if (state == BlockState::partially_present ||
        (parameters.has_parent && state == BlockState::not_present && !whole_block))
        return write_differencing(block, in_block, data);

    // Not present / zero / unmapped / undefined: every sector not written now must read as
    // zero (or, for a whole-block write, is overwritten), so a fresh block at the end of the
    // file (which reads as zeros) becomes fully present.
    uint64_t offset = TRY(allocate_space(parameters.block_size));
    TRY(io->write(offset + in_block, data));
    TRY(io->flush()); // data before the BAT entry that exposes it
    uint64_t index = bat.geometry().payload_index(block);
    bat.set(index, {uint8_t(BlockState::fully_present), offset});
    LogUpdate update = bat.page_update(index);
    auto committed = commit({&update, 1});
    if (committed.is_error()) {
        bat.set(index, entry);
        return committed.release_error();
    }
    return {};
}

ErrorOr<void> DiskImpl::write_differencing(uint64_t block, uint64_t in_block,
                                           std::span<const uint8_t> data) {
    const BatGeometry& g = bat.geometry();
    uint64_t sector = parameters.logical_sector_size;
    BatEntry entry = bat.payload(block);
    uint64_t chunk = block / g.chunk_ratio;
    BatEntry bitmap = bat.bitmap(chunk);
    bool new_block = entry.state != uint8_t(BlockState::partially_present);
    bool new_bitmap = bitmap.state != format::kSectorBitmapPresent;

    uint64_t block_offset = entry.file_offset;
    if (new_block)
        block_offset = TRY(allocate_space(parameters.block_size));
    // Copy-on-write at sector granularity: only the written sectors land in this file; the
    // others keep reading from the parent through the sector bitmap.
    TRY(io->write(block_offset + in_block, data));

    uint64_t bitmap_offset = bitmap.file_offset;
    if (new_bitmap)
        bitmap_offset = TRY(allocate_space(format::kSectorBitmapBlockSize));

    uint64_t block_first_bit = (block % g.chunk_ratio) * g.sectors_per_block;
    uint64_t write_first_bit = block_first_bit + in_block / sector;
    uint64_t write_bits = data.size() / sector;
    // A newly present block takes over all its bits (they may hold stale ones from an earlier
    // life of the block), so the update spans the whole block's bits.
    uint64_t first_bit = new_block ? block_first_bit : write_first_bit;
    uint64_t end_bit =
        new_block ? block_first_bit + g.sectors_per_block : write_first_bit + write_bits;
    uint64_t first_page = first_bit / 8 / 4096;
    uint64_t end_page = ((end_bit - 1) / 8 / 4096) + 1;
    Buffer pages = TRY(Buffer::allocate(*allocator, (end_page - first_page) * 4096));
    if (!new_bitmap)
        TRY(io->read(bitmap_offset + first_page * 4096, pages.span()));
    uint8_t* bits = pages.data();
    uint64_t base_bit = first_page * 4096 * 8;
    bool changed = new_block || new_bitmap;
    if (new_block) {
        for (uint64_t b = block_first_bit; b < block_first_bit + g.sectors_per_block; ++b)
            bits[(b - base_bit) / 8] &= static_cast<uint8_t>(~(1u << (b % 8)));
    }
    for (uint64_t b = write_first_bit; b < write_first_bit + write_bits; ++b) {
        uint8_t& byte = bits[(b - base_bit) / 8];
        uint8_t mask = static_cast<uint8_t>(1u << (b % 8));
        changed = changed || !(byte & mask);
        byte |= mask;
    }
    if (!changed)
        return {};
    TRY(io->flush()); // data before the bitmap/BAT change that exposes it

    LogUpdate updates[3];
    size_t count = 0;
    updates[count++] = {bitmap_offset + first_page * 4096, pages.size(), pages.data()};
    uint64_t payload_index = g.payload_index(block);
    uint64_t bitmap_index = g.bitmap_index(chunk);
    if (new_bitmap) {
        bat.set(bitmap_index, {format::kSectorBitmapPresent, bitmap_offset});
        updates[count++] = bat.page_update(bitmap_index);
    }
    if (new_block) {
        bat.set(payload_index, {uint8_t(BlockState::partially_present), block_offset});
        LogUpdate page = bat.page_update(payload_index);
        if (count == 1 || page.file_offset != updates[1].file_offset)
            updates[count++] = page;
    }
    auto committed = commit({updates, count});
    if (committed.is_error()) {
        bat.set(payload_index, entry);
        bat.set(bitmap_index, bitmap);
        return committed.release_error();
    }
    return {};
}

ErrorOr<void> DiskImpl::trim(uint64_t offset, uint64_t length) {
    TRY(check_range(offset, length));
    if (read_only)
        return Error(ErrorCode::permission, "vhdx: the disk is open read-only");
    // Fixed disks keep their blocks allocated (LeaveBlocksAllocated): a trim is only a hint.
    if (parameters.leave_blocks_allocated || length == 0)
        return {};
    const BatGeometry& g = bat.geometry();
    uint64_t block_size = parameters.block_size;
    uint64_t first_block = (offset + block_size - 1) / block_size;
    uint64_t end = offset + length;
    uint64_t end_block = end == parameters.virtual_size ? g.payload_blocks : end / block_size;
    if (first_block >= end_block)
        return {};
    auto target = parameters.has_parent ? BlockState::zero : BlockState::unmapped;
    auto needs_change = [&](BatEntry entry) {
        auto state = static_cast<BlockState>(entry.state);
        if (state == target)
            return false;
        if (!parameters.has_parent &&
            (state == BlockState::not_present || state == BlockState::zero))
            return false;
        return true;
    };
    bool any = false;
    for (uint64_t block = first_block; block < end_block && !any; ++block)
        any = needs_change(bat.payload(block));
    if (!any)
        return {};
    TRY(prepare_change(true, true));

    // One BAT page per log entry; the page's old entries are kept to undo a failed commit.
    Buffer undo = TRY(Buffer::allocate(*allocator, 512 * sizeof(BatEntry)));
    auto* old_entries = undo.as<BatEntry>();
    uint64_t block = first_block;
    while (block < end_block) {
        uint64_t page = g.payload_index(block) / 512;
        uint64_t page_first_block = block;
        size_t changed = 0;
        for (; block < end_block && g.payload_index(block) / 512 == page; ++block) {
            BatEntry entry = bat.payload(block);
            old_entries[block - page_first_block] = entry;
            if (needs_change(entry)) {
                // Offset 0: the block's space is released (reclaimed by compaction).
                bat.set(g.payload_index(block), {uint8_t(target), 0});
                changed++;
            }
        }
        if (changed == 0)
            continue;
        LogUpdate update = bat.page_update(g.payload_index(page_first_block));
        auto committed = commit({&update, 1});
        if (committed.is_error()) {
            for (uint64_t b = page_first_block; b < block; ++b)
                bat.set(g.payload_index(b), old_entries[b - page_first_block]);
            return committed.release_error();
        }
    }
    return {};
}

} // namespace halcyon::vhdx
