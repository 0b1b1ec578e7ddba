#include "drivers/block/block_device.hpp"

namespace halcyon::drivers::block {

const char* kind_name(Kind kind) {
    switch (kind) {
    case Kind::virtio_blk:
        return "virtio-blk";
    case Kind::nvme:
        return "nvme";
    case Kind::ahci:
        return "ahci";
    }
    return "unknown";
}

DmaRegion dma_slice(const DmaRegion& region, size_t offset, size_t bytes) {
    if (offset > region.size)
        return DmaRegion{};
    if (bytes > region.size - offset)
        bytes = region.size - offset;
    return DmaRegion{region.virt != nullptr ? region.virt + offset : nullptr,
                     region.device_address + offset, bytes};
}

ErrorOr<void> BlockDevice::check_request(uint64_t lba, uint32_t count,
                                         const DmaRegion& buffer) const {
    if (!started_)
        return Error(ErrorCode::invalid_argument, "disk driver is not started");
    if (failed_)
        return Error(ErrorCode::io, "disk stopped responding earlier; it needs a reset");
    if (count == 0)
        return Error(ErrorCode::invalid_argument, "empty disk transfer");
    if (lba > info_.sector_count || count > info_.sector_count - lba)
        return Error(ErrorCode::out_of_range, "disk transfer past the end of the disk");
    if (buffer.size / info_.sector_size < count)
        return Error(ErrorCode::invalid_argument, "disk transfer buffer is too small");
    if ((buffer.device_address & 3) != 0)
        return Error(ErrorCode::invalid_argument, "disk transfer buffer is not 4-byte aligned");
    return {};
}

ErrorOr<void> BlockDevice::read(uint64_t lba, uint32_t count, const DmaRegion& buffer) {
    TRY(check_request(lba, count, buffer));
    uint64_t address = buffer.device_address;
    while (count > 0) {
        const uint32_t chunk =
            count < info_.max_transfer_sectors ? count : info_.max_transfer_sectors;
        TRY(transfer(false, lba, chunk, address, false));
        lba += chunk;
        count -= chunk;
        address += uint64_t(chunk) * info_.sector_size;
    }
    return {};
}

ErrorOr<void> BlockDevice::write(uint64_t lba, uint32_t count, const DmaRegion& buffer,
                                 WriteMode mode) {
    TRY(check_request(lba, count, buffer));
    if (info_.read_only)
        return Error(ErrorCode::permission, "disk is read-only");
    const bool fua = mode == WriteMode::fua;
    uint64_t address = buffer.device_address;
    while (count > 0) {
        const uint32_t chunk =
            count < info_.max_transfer_sectors ? count : info_.max_transfer_sectors;
        TRY(transfer(true, lba, chunk, address, fua && info_.native_fua));
        lba += chunk;
        count -= chunk;
        address += uint64_t(chunk) * info_.sector_size;
    }
    // Without a native FUA, the data is durable only once a flush after it has completed.
    if (fua && !info_.native_fua)
        TRY(flush());
    return {};
}

ErrorOr<void> BlockDevice::flush() {
    if (!started_)
        return Error(ErrorCode::invalid_argument, "disk driver is not started");
    if (failed_)
        return Error(ErrorCode::io, "disk stopped responding earlier; it needs a reset");
    if (info_.flush_command)
        return flush_cache();
    if (info_.volatile_cache)
        return Error(ErrorCode::not_supported,
                     "disk caches writes but has no flush command: durability not guaranteed");
    return {}; // write-through: every completed write is already durable
}

void copy_trimmed(char* out, size_t out_size, const uint8_t* text, size_t length) {
    if (out_size == 0)
        return;
    size_t begin = 0;
    size_t end = length;
    while (begin < end && (text[begin] == ' ' || text[begin] == 0))
        ++begin;
    while (end > begin && (text[end - 1] == ' ' || text[end - 1] == 0))
        --end;
    size_t written = 0;
    for (size_t i = begin; i < end && written + 1 < out_size; ++i) {
        const uint8_t c = text[i];
        out[written++] = c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
    }
    out[written] = '\0';
}

} // namespace halcyon::drivers::block
