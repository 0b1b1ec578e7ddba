// What the SCSI target needs from a disk: sector-addressed I/O, flush, unmap, its geometry and
// identity. Implemented over a VHDX (vhdx_block_device.hpp) and over memory
// (memory_block_device.hpp, for tests and fuzzing).
//
// Addresses and counts are logical sectors ("LBAs"); buffers are a whole number of sectors. The
// target checks every range against sector_count() before it calls I/O, so implementations only
// see valid ranges. Calls are serialized by the controller (one device is never entered twice).
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::vmm::storvsp {

// 16 bytes that identify the disk for good (VPD page 0x83; for a VHDX its virtual disk id).
struct DiskId {
    uint8_t bytes[16] = {};
    friend bool operator==(const DiskId&, const DiskId&) = default;
};

class BlockDevice {
public:
    virtual ~BlockDevice() = default;

    // 512 or 4096.
    [[nodiscard]] virtual uint32_t logical_sector_size() const = 0;
    // logical_sector_size() times a power of two (e.g. 4096 over 512 logical: "512e").
    [[nodiscard]] virtual uint32_t physical_sector_size() const = 0;
    // Capacity in logical sectors (non-zero).
    [[nodiscard]] virtual uint64_t sector_count() const = 0;
    [[nodiscard]] virtual bool read_only() const = 0;
    [[nodiscard]] virtual DiskId disk_id() const = 0;
    // Unit serial number (VPD 0x80): printable ASCII, at most kMaxSerialBytes.
    [[nodiscard]] virtual std::string_view serial() const = 0;
    // Thin provisioning: the sectors one unmap can release at best (e.g. a VHDX block), 0 when
    // the device is fully provisioned and unmap() would do nothing (unmap is then not offered).
    [[nodiscard]] virtual uint32_t unmap_granularity() const = 0;

    [[nodiscard]] virtual ErrorOr<void> read(uint64_t lba, std::span<uint8_t> out) = 0;
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t lba, std::span<const uint8_t> data) = 0;
    // Makes every completed write durable (writes before it may sit in a volatile cache).
    [[nodiscard]] virtual ErrorOr<void> flush() = 0;
    // A hint that the range is no longer used: afterwards each sector either keeps its data
    // (the hint was not taken, e.g. a partial VHDX block) or reads as zeros.
    [[nodiscard]] virtual ErrorOr<void> unmap(uint64_t lba, uint64_t count) = 0;
    // Makes the range read as zeros; with may_unmap the device may release the space instead of
    // writing zeros (WRITE SAME with the UNMAP bit).
    [[nodiscard]] virtual ErrorOr<void> write_zeroes(uint64_t lba, uint64_t count,
                                                     bool may_unmap) = 0;
    // Changes the capacity (online resize); may fail with not_supported.
    [[nodiscard]] virtual ErrorOr<void> resize(uint64_t new_sector_count) = 0;

    static constexpr uint32_t kMaxSerialBytes = 64;
};

} // namespace halcyon::vmm::storvsp
