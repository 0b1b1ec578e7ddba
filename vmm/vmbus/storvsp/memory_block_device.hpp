// A BlockDevice over caller-owned memory: for unit tests, the fuzzer and quick experiments. It
// allocates nothing; the storage span bounds how far it can be resized. Counts what the target
// asked of it and can be told to fail, so tests see every call and every error path.
#pragma once

#include "vmm/vmbus/storvsp/block_device.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::storvsp {

struct MemoryBlockDeviceOptions {
    uint32_t logical_sector_size = 512;
    uint32_t physical_sector_size = 4096;
    // Capacity in logical sectors; 0 = the whole storage span.
    uint64_t sector_count = 0;
    bool read_only = false;
    // 0: fully provisioned (no unmap). Otherwise unmap releases (zeroes) whole granules of this
    // many sectors and leaves partial ones alone, like a VHDX.
    uint32_t unmap_granularity = 0;
    DiskId disk_id{};
    std::string_view serial = "HALCYON-MEMDISK";
};

class MemoryBlockDevice final : public BlockDevice {
public:
    // `storage` must hold at least sector_count sectors.
    MemoryBlockDevice(std::span<uint8_t> storage, const MemoryBlockDeviceOptions& options);

    uint32_t logical_sector_size() const override { return options_.logical_sector_size; }
    uint32_t physical_sector_size() const override { return options_.physical_sector_size; }
    uint64_t sector_count() const override { return sector_count_; }
    bool read_only() const override { return options_.read_only; }
    DiskId disk_id() const override { return options_.disk_id; }
    std::string_view serial() const override { return options_.serial; }
    uint32_t unmap_granularity() const override { return options_.unmap_granularity; }

    ErrorOr<void> read(uint64_t lba, std::span<uint8_t> out) override;
    ErrorOr<void> write(uint64_t lba, std::span<const uint8_t> data) override;
    ErrorOr<void> flush() override;
    ErrorOr<void> unmap(uint64_t lba, uint64_t count) override;
    ErrorOr<void> write_zeroes(uint64_t lba, uint64_t count, bool may_unmap) override;
    ErrorOr<void> resize(uint64_t new_sector_count) override;

    // Fault injection: the next calls of that kind fail with an I/O error.
    bool fail_reads = false;
    bool fail_writes = false;
    bool fail_flushes = false;

    // What was asked of the device.
    uint64_t reads = 0;
    uint64_t writes = 0;
    uint64_t flushes = 0;
    uint64_t unmapped_sectors = 0; // sectors actually released by unmap/write_zeroes
    uint64_t zeroed_sectors = 0;   // sectors written with zeros by write_zeroes
    uint64_t writes_since_flush = 0;

    [[nodiscard]] std::span<uint8_t> storage() const { return storage_; }

private:
    [[nodiscard]] ErrorOr<uint8_t*> locate(uint64_t lba, uint64_t bytes) const;
    void release(uint64_t lba, uint64_t count);

    std::span<uint8_t> storage_;
    MemoryBlockDeviceOptions options_;
    uint64_t sector_count_;
};

} // namespace halcyon::vmm::storvsp
