// Checks of the BAT: every entry's state allowed for the disk, every allocated block inside the
// file, on no region and on no other block; and the sector bitmaps of differencing disks.
#include "vhdx/ops/check_context.hpp"

#include <string.h>

namespace halcyon::vhdx::ops::detail {
namespace {

using format::kMiB;

// One bit per MiB of the file: which MiBs a region or an allocated block already owns.
class FileMap {
public:
    [[nodiscard]] ErrorOr<void> init(Allocator& allocator, uint64_t file_size) {
        units_ = (file_size + kMiB - 1) / kMiB;
        bits_ = TRY(Buffer::allocate(allocator, (units_ + 7) / 8));
        return {};
    }
    // Marks [offset, offset + length); returns false if any MiB was taken already.
    bool claim(uint64_t offset, uint64_t length) {
        bool clean = true;
        for (uint64_t unit = offset / kMiB;
             unit < (offset + length + kMiB - 1) / kMiB && unit < units_; ++unit) {
            uint8_t mask = static_cast<uint8_t>(1u << (unit % 8));
            if (bits_.data()[unit / 8] & mask)
                clean = false;
            bits_.data()[unit / 8] |= mask;
        }
        return clean;
    }

private:
    Buffer bits_;
    uint64_t units_ = 0;
};

bool valid_payload_state(uint8_t state) {
    return state <= 3 || state == 6 || state == 7;
}

} // namespace

ErrorOr<void> check_bat(CheckContext& c) {
    uint64_t block_size = c.block_size;
    uint64_t chunk_ratio = (format::kSectorsPerBitmapBlock * c.logical_sector_size) / block_size;
    uint64_t payload_blocks = (c.virtual_size + block_size - 1) / block_size;
    uint64_t bitmap_blocks = (payload_blocks + chunk_ratio - 1) / chunk_ratio;
    uint64_t total = c.has_parent ? bitmap_blocks * (chunk_ratio + 1)
                                  : payload_blocks + (payload_blocks - 1) / chunk_ratio;
    c.result.payload_blocks = payload_blocks;
    if (total * 8 > c.bat_length) {
        c.report_values(
            Severity::damaged,
            "BAT: region too small for the disk (found = bytes, expected = bytes needed)",
            c.bat_offset, kNoIndex, c.bat_length, total * 8);
        return {};
    }
    FileMap map;
    TRY(map.init(c.allocator, c.result.file_size));
    map.claim(0, format::kHeaderSectionSize);
    map.claim(c.header.log_offset, c.header.log_length);
    map.claim(c.bat_offset, c.bat_length);
    map.claim(c.metadata_offset, c.metadata_length);

    // Partially present blocks of the current chunk (checked against its sector bitmap when
    // the chunk's bitmap entry, which follows its payload entries, is reached).
    Buffer partial = TRY(Buffer::allocate(c.allocator, (chunk_ratio + 7) / 8));
    uint64_t partial_count = 0;
    Buffer bitmap;
    constexpr uint64_t kPieceEntries = kMiB / 8;
    Buffer piece = TRY(Buffer::allocate(c.allocator, kMiB));
    for (uint64_t first = 0; first < total; first += kPieceEntries) {
        uint64_t count = total - first < kPieceEntries ? total - first : kPieceEntries;
        TRY(c.io.read(c.bat_offset + first * 8, piece.span().subspan(0, count * 8)));
        const uint64_t* raw = piece.as<uint64_t>();
        for (uint64_t k = 0; k < count; ++k) {
            uint64_t index = first + k;
            uint64_t entry_at = c.bat_offset + index * 8;
            uint8_t state = raw[k] & 7;
            uint64_t offset = (raw[k] >> 20) << 20;
            bool is_bitmap = index % (chunk_ratio + 1) == chunk_ratio;
            if (is_bitmap) {
                uint64_t chunk = index / (chunk_ratio + 1);
                if (state != format::kSectorBitmapNotPresent &&
                    state != format::kSectorBitmapPresent) {
                    c.report_values(Severity::damaged,
                                    "BAT: sector bitmap entry has an invalid state", entry_at,
                                    index, state, format::kSectorBitmapPresent);
                    continue;
                }
                bool present = state == format::kSectorBitmapPresent;
                if (present && !c.has_parent)
                    c.report(Severity::note,
                             "BAT: sector bitmap block allocated on a disk without a parent",
                             entry_at, index);
                if (present) {
                    if (offset == 0 || offset + kMiB > c.result.file_size) {
                        c.report_values(
                            Severity::damaged,
                            "BAT: sector bitmap block outside the file (found = offset, "
                            "expected = below file size)",
                            entry_at, index, offset, c.result.file_size);
                        present = false;
                    } else if (!map.claim(offset, kMiB)) {
                        c.report_values(
                            Severity::damaged,
                            "BAT: sector bitmap block overlaps a region or another block", entry_at,
                            index, offset, 0);
                    }
                }
                if (partial_count > 0 && !present) {
                    c.report_values(Severity::damaged,
                                    "BAT: chunk has partially present blocks but no sector bitmap "
                                    "(found = partial blocks)",
                                    entry_at, index, partial_count, 0);
                } else if (present && c.has_parent) {
                    // Sector bitmap consistency: partial blocks name at least one sector of
                    // their own, and no bit is set past the end of the disk.
                    if (bitmap.size() == 0)
                        bitmap = TRY(Buffer::allocate(c.allocator, kMiB));
                    TRY(c.io.read(offset, bitmap.span()));
                    uint64_t sectors_per_block = block_size / c.logical_sector_size;
                    uint64_t bytes_per_block = sectors_per_block / 8;
                    for (uint64_t b = 0; b < chunk_ratio; ++b) {
                        uint64_t block = chunk * chunk_ratio + b;
                        const uint8_t* bits = bitmap.data() + b * bytes_per_block;
                        bool any = false;
                        for (uint64_t i = 0; i < bytes_per_block && !any; ++i)
                            any = bits[i] != 0;
                        if (block >= payload_blocks) {
                            if (any)
                                c.report(
                                    Severity::note,
                                    "sector bitmap: bits set for sectors past the end of the disk",
                                    offset + b * bytes_per_block, block);
                            continue;
                        }
                        bool is_partial = partial.data()[b / 8] & (1u << (b % 8));
                        if (is_partial && !any)
                            c.report(
                                Severity::note,
                                "sector bitmap: partially present block has no sector of its own",
                                offset + b * bytes_per_block, block);
                    }
                }
                memset(partial.data(), 0, partial.size());
                partial_count = 0;
                continue;
            }
            uint64_t block = index - index / (chunk_ratio + 1);
            if (block >= payload_blocks)
                continue;
            if (!valid_payload_state(state)) {
                c.report_values(Severity::damaged, "BAT: payload entry has an invalid state",
                                entry_at, block, state, 6);
                continue;
            }
            if (state == 7 && !c.has_parent) {
                c.report(Severity::damaged,
                         "BAT: partially present block on a disk without a parent", entry_at,
                         block);
                continue;
            }
            if (state < 6) {
                if (offset != 0 && state != 3)
                    c.report_values(Severity::note,
                                    "BAT: unallocated block entry carries a file offset", entry_at,
                                    block, offset, 0);
                continue;
            }
            c.result.present_blocks++;
            uint64_t in_disk = c.virtual_size - block * block_size;
            uint64_t needed =
                in_disk < block_size ? (in_disk + kMiB - 1) / kMiB * kMiB : block_size;
            if (offset < format::kHeaderSectionSize || offset + needed > c.result.file_size) {
                c.report_values(Severity::damaged,
                                "BAT: payload block outside the file (found = end of block, "
                                "expected = at most the file size)",
                                entry_at, block, offset + needed, c.result.file_size);
                continue;
            }
            if (!map.claim(offset, needed))
                c.report_values(Severity::damaged,
                                "BAT: payload block overlaps a region or another block (found = "
                                "its file offset)",
                                entry_at, block, offset, 0);
            if (state == 7) {
                uint64_t b = block % chunk_ratio;
                partial.data()[b / 8] |= static_cast<uint8_t>(1u << (b % 8));
                partial_count++;
            }
        }
    }
    return {};
}

} // namespace halcyon::vhdx::ops::detail
