#include "vmm/vmbus/storvsp/memory_block_device.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

MemoryBlockDevice::MemoryBlockDevice(std::span<uint8_t> storage,
                                     const MemoryBlockDeviceOptions& options)
    : storage_(storage), options_(options) {
    uint64_t fits = storage.size() / options.logical_sector_size;
    sector_count_ =
        options.sector_count == 0 || options.sector_count > fits ? fits : options.sector_count;
}

ErrorOr<uint8_t*> MemoryBlockDevice::locate(uint64_t lba, uint64_t bytes) const {
    const uint64_t sector = options_.logical_sector_size;
    if (bytes % sector != 0)
        return Error(ErrorCode::invalid_argument, "memory disk: partial sector");
    if (lba > sector_count_ || bytes / sector > sector_count_ - lba)
        return Error(ErrorCode::out_of_range, "memory disk: range past the end");
    return storage_.data() + lba * sector;
}

ErrorOr<void> MemoryBlockDevice::read(uint64_t lba, std::span<uint8_t> out) {
    ++reads;
    if (fail_reads)
        return Error(ErrorCode::io, "memory disk: injected read failure");
    uint8_t* at = TRY(locate(lba, out.size()));
    memcpy(out.data(), at, out.size());
    return {};
}

ErrorOr<void> MemoryBlockDevice::write(uint64_t lba, std::span<const uint8_t> data) {
    ++writes;
    if (options_.read_only)
        return Error(ErrorCode::permission, "memory disk: read-only");
    if (fail_writes)
        return Error(ErrorCode::io, "memory disk: injected write failure");
    uint8_t* at = TRY(locate(lba, data.size()));
    memcpy(at, data.data(), data.size());
    ++writes_since_flush;
    return {};
}

ErrorOr<void> MemoryBlockDevice::flush() {
    ++flushes;
    if (fail_flushes)
        return Error(ErrorCode::io, "memory disk: injected flush failure");
    writes_since_flush = 0;
    return {};
}

// Zeroes the whole granules inside [lba, lba + count): what a thin device gives back.
void MemoryBlockDevice::release(uint64_t lba, uint64_t count) {
    const uint64_t granule = options_.unmap_granularity;
    uint64_t first = (lba + granule - 1) / granule * granule;
    uint64_t end = (lba + count) / granule * granule;
    if (lba + count == sector_count_)
        end = sector_count_;
    if (first >= end)
        return;
    memset(storage_.data() + first * options_.logical_sector_size, 0,
           (end - first) * options_.logical_sector_size);
    unmapped_sectors += end - first;
}

ErrorOr<void> MemoryBlockDevice::unmap(uint64_t lba, uint64_t count) {
    if (options_.read_only)
        return Error(ErrorCode::permission, "memory disk: read-only");
    if (fail_writes)
        return Error(ErrorCode::io, "memory disk: injected unmap failure");
    TRY(locate(lba, count * options_.logical_sector_size));
    if (options_.unmap_granularity != 0)
        release(lba, count);
    return {};
}

ErrorOr<void> MemoryBlockDevice::write_zeroes(uint64_t lba, uint64_t count, bool may_unmap) {
    if (options_.read_only)
        return Error(ErrorCode::permission, "memory disk: read-only");
    if (fail_writes)
        return Error(ErrorCode::io, "memory disk: injected write failure");
    uint8_t* at = TRY(locate(lba, count * options_.logical_sector_size));
    if (may_unmap && options_.unmap_granularity != 0)
        release(lba, count);
    // Whatever was not released is written with zeros (released sectors are zero already).
    memset(at, 0, count * options_.logical_sector_size);
    zeroed_sectors += count;
    return {};
}

ErrorOr<void> MemoryBlockDevice::resize(uint64_t new_sector_count) {
    if (options_.read_only)
        return Error(ErrorCode::permission, "memory disk: read-only");
    if (new_sector_count == 0 || new_sector_count > storage_.size() / options_.logical_sector_size)
        return Error(ErrorCode::out_of_range, "memory disk: size beyond its storage");
    // Growing shows zeros, as a VHDX does.
    if (new_sector_count > sector_count_)
        memset(storage_.data() + sector_count_ * options_.logical_sector_size, 0,
               (new_sector_count - sector_count_) * options_.logical_sector_size);
    sector_count_ = new_sector_count;
    return {};
}

} // namespace halcyon::vmm::storvsp
