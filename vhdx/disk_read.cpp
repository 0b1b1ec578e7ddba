// Guest reads: resolve each block through the BAT; partially present blocks of differencing
// disks go sector run by sector run between this file and the parent chain.
#include "vhdx/disk_impl.hpp"

#include <string.h>

namespace halcyon::vhdx {

ErrorOr<void> DiskImpl::read(uint64_t offset, std::span<uint8_t> buffer) {
    TRY(check_range(offset, buffer.size()));
    uint64_t block_size = parameters.block_size;
    size_t done = 0;
    while (done < buffer.size()) {
        uint64_t position = offset + done;
        uint64_t block = position / block_size;
        uint64_t in_block = position % block_size;
        size_t step = static_cast<size_t>(block_size - in_block < buffer.size() - done
                                              ? block_size - in_block
                                              : buffer.size() - done);
        TRY(read_block(block, in_block, buffer.subspan(done, step)));
        done += step;
    }
    return {};
}

ErrorOr<void> DiskImpl::read_parent(uint64_t offset, std::span<uint8_t> buffer) {
    return parent->impl().read(offset, buffer);
}

ErrorOr<void> DiskImpl::read_block(uint64_t block, uint64_t in_block, std::span<uint8_t> buffer) {
    BatEntry entry = bat.payload(block);
    uint64_t virtual_offset = block * parameters.block_size + in_block;
    switch (static_cast<BlockState>(entry.state)) {
    case BlockState::fully_present:
        return io->read(entry.file_offset + in_block, buffer);
    case BlockState::partially_present:
        return read_partial(block, entry.file_offset, in_block, buffer);
    case BlockState::not_present:
        // Only in a differencing disk does "not present" mean "ask the parent".
        if (parameters.has_parent)
            return read_parent(virtual_offset, buffer);
        memset(buffer.data(), 0, buffer.size());
        return {};
    case BlockState::undefined:
    case BlockState::zero:
    case BlockState::unmapped:
        // Zero reads as zeros by definition; undefined and unmapped contents are not defined
        // by the spec, zeros is the safe choice (never leaks old or parent data after a trim).
        memset(buffer.data(), 0, buffer.size());
        return {};
    }
    return Error(ErrorCode::corrupt, "BAT: payload entry has an invalid state");
}

ErrorOr<void> DiskImpl::read_bitmap(uint64_t block, uint64_t first, uint64_t count, uint8_t* bits) {
    const BatGeometry& g = bat.geometry();
    BatEntry bitmap = bat.bitmap(block / g.chunk_ratio);
    if (bitmap.state != format::kSectorBitmapPresent)
        return Error(ErrorCode::corrupt, "BAT: partially present block without a sector bitmap");
    uint64_t bit = (block % g.chunk_ratio) * g.sectors_per_block + first;
    uint64_t first_byte = bit / 8;
    uint64_t last_byte = (bit + count - 1) / 8;
    uint8_t raw[512];
    // Read in pieces of 512 bytes (4096 sectors) and realign the bits to start at `first`.
    for (uint64_t i = 0; i < count;) {
        uint64_t byte = (bit + i) / 8;
        uint64_t bytes = last_byte - byte + 1 < sizeof raw ? last_byte - byte + 1 : sizeof raw;
        TRY(io->read(bitmap.file_offset + byte, {raw, static_cast<size_t>(bytes)}));
        uint64_t limit = (byte + bytes) * 8; // bits available in raw (absolute)
        for (; i < count && bit + i < limit; ++i) {
            uint64_t absolute = bit + i;
            bool set = raw[absolute / 8 - byte] & (1u << (absolute % 8));
            if (set)
                bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
            else
                bits[i / 8] &= static_cast<uint8_t>(~(1u << (i % 8)));
        }
    }
    (void)first_byte;
    return {};
}

ErrorOr<void> DiskImpl::read_partial(uint64_t block, uint64_t file_offset, uint64_t in_block,
                                     std::span<uint8_t> buffer) {
    uint64_t sector = parameters.logical_sector_size;
    uint64_t first = in_block / sector;
    uint64_t total = buffer.size() / sector;
    uint64_t block_base = block * parameters.block_size;
    uint8_t bits[512];
    for (uint64_t start = 0; start < total;) {
        uint64_t window = total - start < sizeof bits * 8 ? total - start : sizeof bits * 8;
        TRY(read_bitmap(block, first + start, window, bits));
        // Each run of equal bits is one read, from this file (1) or the parent (0).
        for (uint64_t i = 0; i < window;) {
            bool present = bits[i / 8] & (1u << (i % 8));
            uint64_t run = 1;
            while (i + run < window &&
                   bool(bits[(i + run) / 8] & (1u << ((i + run) % 8))) == present)
                ++run;
            uint64_t sector_in_block = first + start + i;
            auto out = buffer.subspan((start + i) * sector, run * sector);
            if (present)
                TRY(io->read(file_offset + sector_in_block * sector, out));
            else
                TRY(read_parent(block_base + sector_in_block * sector, out));
            i += run;
        }
        start += window;
    }
    return {};
}

} // namespace halcyon::vhdx
