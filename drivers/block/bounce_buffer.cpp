#include "drivers/block/bounce_buffer.hpp"

#include <string.h>

namespace halcyon::drivers::block {

ErrorOr<void> BounceBuffer::allocate(DmaAllocator& dma, size_t bytes) {
    region_ = TRY(dma.allocate_dma(bytes));
    return {};
}

ErrorOr<uint32_t> BounceBuffer::chunk_sectors(const BlockDevice& device, size_t bytes) const {
    const uint32_t sector = device.info().sector_size;
    if (sector == 0 || bytes % sector != 0)
        return Error(ErrorCode::invalid_argument, "disk I/O is not a whole number of sectors");
    const size_t sectors = region_.size / sector;
    if (sectors == 0)
        return Error(ErrorCode::invalid_argument, "bounce buffer is smaller than one sector");
    return static_cast<uint32_t>(sectors > 0xFFFF'FFFFu ? 0xFFFF'FFFFu : sectors);
}

ErrorOr<void> BounceBuffer::read(BlockDevice& device, uint64_t lba, std::span<uint8_t> out) {
    const uint32_t per_chunk = TRY(chunk_sectors(device, out.size()));
    const uint32_t sector = device.info().sector_size;
    size_t done = 0;
    while (done < out.size()) {
        const size_t left = (out.size() - done) / sector;
        const uint32_t count = left < per_chunk ? static_cast<uint32_t>(left) : per_chunk;
        TRY(device.read(lba, count, region_));
        memcpy(out.data() + done, region_.virt, size_t(count) * sector);
        done += size_t(count) * sector;
        lba += count;
    }
    return {};
}

ErrorOr<void> BounceBuffer::write(BlockDevice& device, uint64_t lba, std::span<const uint8_t> data,
                                  WriteMode mode) {
    const uint32_t per_chunk = TRY(chunk_sectors(device, data.size()));
    const uint32_t sector = device.info().sector_size;
    size_t done = 0;
    while (done < data.size()) {
        const size_t left = (data.size() - done) / sector;
        const uint32_t count = left < per_chunk ? static_cast<uint32_t>(left) : per_chunk;
        memcpy(region_.virt, data.data() + done, size_t(count) * sector);
        TRY(device.write(lba, count, region_, mode));
        done += size_t(count) * sector;
        lba += count;
    }
    return {};
}

} // namespace halcyon::drivers::block
