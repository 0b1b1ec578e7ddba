// Compaction (see compact.hpp). The file is described as a sorted list of extents in use: the
// header section, the log, the metadata region, the BAT region, and every block a BAT entry
// owns (present payload blocks; present sector bitmap blocks of differencing disks). Gaps
// between extents, from 1 MiB boundaries, are the holes blocks can move into.
#include "vhdx/compact.hpp"

#include "vhdx/disk_impl.hpp"
#include "vhdx/format.hpp"

#include <algorithm>

namespace halcyon::vhdx {
namespace {

constexpr uint64_t kNoEntry = ~0ull;
constexpr uint64_t round_up(uint64_t value, uint64_t to) {
    return (value + to - 1) / to * to;
}

struct Extent {
    uint64_t offset;
    uint64_t length;
    uint64_t bat_index; // kNoEntry for the fixed structures, which never move
};

bool owns_space(const DiskImpl& d, uint64_t index, BatEntry entry) {
    const BatGeometry& g = d.bat.geometry();
    bool is_bitmap = (index + 1) % (g.chunk_ratio + 1) == 0;
    if (is_bitmap)
        return g.has_parent && entry.state == format::kSectorBitmapPresent;
    return entry.state == uint8_t(BlockState::fully_present) ||
           entry.state == uint8_t(BlockState::partially_present);
}

// Step 1: entries that do not own space (zero, unmapped, ...) but still name an offset are
// cleared, so the space they name can be reused without two entries pointing at one place.
ErrorOr<uint64_t> clear_stale_offsets(DiskImpl& d) {
    const BatGeometry& g = d.bat.geometry();
    uint64_t cleared = 0;
    uint64_t entries_per_page = 4096 / 8;
    for (uint64_t page_first = 0; page_first < g.total_entries; page_first += entries_per_page) {
        uint64_t page_end = std::min(g.total_entries, page_first + entries_per_page);
        bool changed = false;
        for (uint64_t index = page_first; index < page_end; ++index) {
            BatEntry entry = d.bat.get(index);
            if (entry.file_offset == 0 || owns_space(d, index, entry))
                continue;
            d.bat.set(index, {entry.state, 0});
            changed = true;
            cleared++;
        }
        if (changed) {
            TRY(d.prepare_change(false, true));
            LogUpdate update = d.bat.page_update(page_first);
            TRY(d.commit({&update, 1}));
        }
    }
    return cleared;
}

ErrorOr<size_t> collect_extents(DiskImpl& d, Extent* extents, size_t capacity) {
    size_t count = 0;
    const format::Header& h = d.header.header;
    extents[count++] = {0, format::kHeaderSectionSize, kNoEntry};
    extents[count++] = {h.log_offset, h.log_length, kNoEntry};
    extents[count++] = {d.regions.metadata_offset, d.regions.metadata_length, kNoEntry};
    extents[count++] = {d.regions.bat_offset, d.regions.bat_length, kNoEntry};
    const BatGeometry& g = d.bat.geometry();
    for (uint64_t index = 0; index < g.total_entries; ++index) {
        BatEntry entry = d.bat.get(index);
        if (!owns_space(d, index, entry))
            continue;
        bool is_bitmap = (index + 1) % (g.chunk_ratio + 1) == 0;
        if (count == capacity)
            return Error(ErrorCode::corrupt, "compact: more extents than BAT entries");
        extents[count++] = {entry.file_offset,
                            is_bitmap ? uint64_t(format::kSectorBitmapBlockSize) : g.block_size,
                            index};
    }
    std::sort(extents, extents + count,
              [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    for (size_t i = 1; i < count; ++i) {
        if (extents[i - 1].offset + extents[i - 1].length > extents[i].offset)
            return Error(ErrorCode::corrupt,
                         "compact: two blocks or structures overlap in the file; run check");
    }
    return count;
}

// The lowest hole (1 MiB aligned) of at least `length` bytes ending at or before `limit`.
bool find_hole(const Extent* extents, size_t count, uint64_t length, uint64_t limit,
               uint64_t& hole) {
    for (size_t i = 0; i + 1 < count; ++i) {
        uint64_t start = round_up(extents[i].offset + extents[i].length, kMiB);
        uint64_t end = extents[i + 1].offset;
        if (start + length > limit)
            return false;
        if (start < end && end - start >= length) {
            hole = start;
            return true;
        }
    }
    return false;
}

ErrorOr<void> copy_bytes(DiskImpl& d, uint64_t from, uint64_t to, uint64_t length, Buffer& buffer) {
    for (uint64_t done = 0; done < length;) {
        uint64_t step = std::min<uint64_t>(length - done, buffer.size());
        TRY(d.io->read(from + done, buffer.span().subspan(0, step)));
        TRY(d.io->write(to + done, buffer.span().subspan(0, step)));
        done += step;
    }
    return {};
}

} // namespace

ErrorOr<CompactResult> compact(Disk& disk) {
    DiskImpl& d = disk.impl();
    if (d.read_only)
        return Error(ErrorCode::permission, "compact: the disk is open read-only");
    CompactResult result{};
    result.old_file_size = d.file_size;
    result.entries_cleared = TRY(clear_stale_offsets(d));

    const BatGeometry& g = d.bat.geometry();
    size_t capacity = g.total_entries + 4;
    Buffer extent_buffer = TRY(Buffer::allocate(*d.allocator, capacity * sizeof(Extent)));
    auto* extents = extent_buffer.as<Extent>();
    size_t count = TRY(collect_extents(d, extents, capacity));
    Buffer copy_buffer = TRY(Buffer::allocate(*d.allocator, kMiB));

    // Move the last movable extent into the lowest hole before it, until none fits.
    while (true) {
        size_t last = count;
        for (size_t i = count; i-- > 0;) {
            if (extents[i].bat_index != kNoEntry) {
                last = i;
                break;
            }
        }
        if (last == count)
            break;
        Extent moving = extents[last];
        uint64_t hole = 0;
        if (!find_hole(extents, count, moving.length, moving.offset, hole))
            break;
        TRY(d.prepare_change(false, true));
        TRY(copy_bytes(d, moving.offset, hole, moving.length, copy_buffer));
        TRY(d.io->flush()); // the copy is durable before the BAT entry names it
        BatEntry old_entry = d.bat.get(moving.bat_index);
        d.bat.set(moving.bat_index, {old_entry.state, hole});
        LogUpdate update = d.bat.page_update(moving.bat_index);
        auto committed = d.commit({&update, 1});
        if (committed.is_error()) {
            d.bat.set(moving.bat_index, old_entry);
            return committed.release_error();
        }
        result.blocks_moved++;
        extents[last].offset = hole;
        std::sort(extents, extents + count,
                  [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
    }

    uint64_t end = 0;
    for (size_t i = 0; i < count; ++i)
        end = std::max(end, extents[i].offset + extents[i].length);
    end = round_up(end, kMiB);
    if (end < d.file_size) {
        // Every log entry is applied and flushed, but entries of the current log generation
        // still record the old, larger FlushedFileOffset, and a reader replaying after a crash
        // may refuse a file shorter than that (qemu-img walks the whole run of entries, not
        // just from the newest entry's tail). So the generation is ended first - LogGuid
        // cleared, as close() does - and the next change starts a new one.
        TRY(d.io->flush());
        if (!d.header.header.log_guid.is_zero()) {
            format::Header next = d.header.header;
            next.log_guid = Guid{};
            TRY(update_header(*d.io, d.header, next));
        }
        d.log.stop();
        TRY(d.io->set_size(end));
        d.file_size = end;
        TRY(d.io->flush());
    }
    result.new_file_size = d.file_size;
    return result;
}

} // namespace halcyon::vhdx
