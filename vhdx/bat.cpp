#include "vhdx/bat.hpp"

#include "vhdx/format.hpp"

namespace halcyon::vhdx {

BatGeometry BatGeometry::compute(uint64_t virtual_size, uint32_t block_size,
                                 uint32_t logical_sector_size, bool has_parent) {
    BatGeometry g{};
    g.virtual_size = virtual_size;
    g.block_size = block_size;
    g.logical_sector_size = logical_sector_size;
    g.has_parent = has_parent;
    g.chunk_ratio = format::kSectorsPerBitmapBlock * logical_sector_size / block_size;
    g.payload_blocks = (virtual_size + block_size - 1) / block_size;
    g.sector_bitmap_blocks = (g.payload_blocks + g.chunk_ratio - 1) / g.chunk_ratio;
    g.sectors_per_block = block_size / logical_sector_size;
    // MS-VHDX 2.5: without a parent the last chunk needs no trailing bitmap entry.
    if (has_parent)
        g.total_entries = g.sector_bitmap_blocks * (g.chunk_ratio + 1);
    else
        g.total_entries = g.payload_blocks + (g.payload_blocks - 1) / g.chunk_ratio;
    return g;
}

namespace {
uint64_t page_bytes(const BatGeometry& g) {
    return (g.total_entries * 8 + 4095) / 4096 * 4096;
}
} // namespace

ErrorOr<Bat> Bat::load(BlockIo& io, Allocator& allocator, const BatGeometry& geometry,
                       uint64_t offset, uint32_t length) {
    if (geometry.total_entries * 8 > length)
        return Error(ErrorCode::corrupt, "BAT: region too small for the virtual disk size");
    Bat bat;
    bat.geometry_ = geometry;
    bat.offset_ = offset;
    bat.entries_ = TRY(Buffer::allocate(allocator, page_bytes(geometry)));
    TRY(io.read(offset, bat.entries_.span()));
    return bat;
}

ErrorOr<Bat> Bat::create_empty(Allocator& allocator, const BatGeometry& geometry, uint64_t offset) {
    Bat bat;
    bat.geometry_ = geometry;
    bat.offset_ = offset;
    bat.entries_ = TRY(Buffer::allocate(allocator, page_bytes(geometry)));
    return bat;
}

ErrorOr<void> Bat::validate(uint64_t file_size, const ReservedAreas& reserved) const {
    const BatGeometry& g = geometry_;
    auto check_range = [&](uint64_t start, uint64_t length) -> ErrorOr<void> {
        if (start < format::kHeaderSectionSize)
            return Error(ErrorCode::corrupt, "BAT: block points into the header section");
        if (start + length > file_size)
            return Error(ErrorCode::corrupt, "BAT: block lies past the end of the file");
        for (int i = 0; i < 3; ++i) {
            if (start < reserved.start[i] + reserved.length[i] &&
                reserved.start[i] < start + length)
                return Error(ErrorCode::corrupt, "BAT: block overlaps the log, metadata or BAT");
        }
        return {};
    };
    for (uint64_t index = 0; index < g.total_entries; ++index) {
        BatEntry entry = get(index);
        bool is_bitmap = (index + 1) % (g.chunk_ratio + 1) == 0;
        if (is_bitmap) {
            if (entry.state == format::kSectorBitmapNotPresent) {
                continue;
            }
            if (entry.state != format::kSectorBitmapPresent)
                return Error(ErrorCode::corrupt, "BAT: sector bitmap entry has an invalid state");
            if (!g.has_parent)
                continue; // dynamic disks reserve these entries; nothing reads them
            TRY(check_range(entry.file_offset, format::kSectorBitmapBlockSize));
            continue;
        }
        switch (static_cast<BlockState>(entry.state)) {
        case BlockState::not_present:
        case BlockState::undefined:
        case BlockState::zero:
        case BlockState::unmapped:
            break;
        case BlockState::partially_present:
            if (!g.has_parent)
                return Error(ErrorCode::corrupt,
                             "BAT: partially present block in a disk without a parent");
            {
                uint64_t chunk = (index - index / (g.chunk_ratio + 1)) / g.chunk_ratio;
                if (bitmap(chunk).state != format::kSectorBitmapPresent)
                    return Error(ErrorCode::corrupt,
                                 "BAT: partially present block without a sector bitmap");
            }
            [[fallthrough]];
        case BlockState::fully_present:
            if (entry.file_offset == 0)
                return Error(ErrorCode::corrupt, "BAT: present block with file offset 0");
            TRY(check_range(entry.file_offset, g.block_size));
            break;
        default:
            return Error(ErrorCode::corrupt, "BAT: payload entry has an invalid state");
        }
    }
    return {};
}

LogUpdate Bat::page_update(uint64_t index) const {
    uint64_t page = index * 8 / 4096 * 4096;
    return {offset_ + page, 4096, entries_.data() + page};
}

BlockStateCounts Bat::count_states() const {
    BlockStateCounts counts;
    for (uint64_t index = 0; index < geometry_.total_entries; ++index) {
        BatEntry entry = get(index);
        if ((index + 1) % (geometry_.chunk_ratio + 1) == 0) {
            counts.sector_bitmap_present += entry.state == format::kSectorBitmapPresent;
            continue;
        }
        switch (static_cast<BlockState>(entry.state)) {
        case BlockState::not_present:
            counts.not_present++;
            break;
        case BlockState::undefined:
            counts.undefined++;
            break;
        case BlockState::zero:
            counts.zero++;
            break;
        case BlockState::unmapped:
            counts.unmapped++;
            break;
        case BlockState::fully_present:
            counts.fully_present++;
            break;
        case BlockState::partially_present:
            counts.partially_present++;
            break;
        }
    }
    return counts;
}

} // namespace halcyon::vhdx
