// A BlockDevice over an open VHDX virtual disk (vhdx/disk.hpp).
//
// What the guest sees comes from the VHDX metadata: logical and physical sector size (512/4096:
// a 512e disk reports 8 logical blocks per physical block), the virtual size, and the virtual
// disk id (VPD 83h; the serial is the same id as text). Dynamic and differencing disks are thin:
// unmap trims whole VHDX blocks (their space is released, they read as zeros) with the block
// size as the unmap granularity; fixed disks are fully provisioned. Resize goes through
// vhdx::resize (not for differencing disks).
//
// It also counts the payload blocks that hold data (fully or partially present), kept exact
// across writes, trims and resizes, so the VM worker can say how far a guest's trims shrank
// the disk (take_trim_report).
//
// The Disk stays owned by the caller and must outlive the device; the device is not
// thread-safe (the controller serializes it) except for allocated_blocks() and
// take_trim_report(), which any thread may call.
#pragma once

#include "mm/spinlock.hpp"
#include "vhdx/disk.hpp"
#include "vmm/vmbus/storvsp/block_device.hpp"

#include <stdint.h>

namespace halcyon::vmm::storvsp {

class VhdxBlockDevice final : public BlockDevice {
public:
    // read_only: refuse writes even if the disk is open for writing.
    explicit VhdxBlockDevice(vhdx::Disk& disk, bool read_only = false);

    uint32_t logical_sector_size() const override { return logical_; }
    uint32_t physical_sector_size() const override { return physical_; }
    uint64_t sector_count() const override { return sectors_; }
    bool read_only() const override { return read_only_; }
    DiskId disk_id() const override { return id_; }
    std::string_view serial() const override { return {serial_, kSerialLength}; }
    uint32_t unmap_granularity() const override { return unmap_granularity_; }

    ErrorOr<void> read(uint64_t lba, std::span<uint8_t> out) override;
    ErrorOr<void> write(uint64_t lba, std::span<const uint8_t> data) override;
    ErrorOr<void> flush() override;
    ErrorOr<void> unmap(uint64_t lba, uint64_t count) override;
    ErrorOr<void> write_zeroes(uint64_t lba, uint64_t count, bool may_unmap) override;
    ErrorOr<void> resize(uint64_t new_sector_count) override;

    [[nodiscard]] vhdx::Disk& disk() { return disk_; }

    // Payload blocks holding data now, and the disk's payload block count.
    [[nodiscard]] uint64_t allocated_blocks() const {
        return __atomic_load_n(&allocated_, __ATOMIC_ACQUIRE);
    }
    [[nodiscard]] uint64_t payload_blocks() const {
        return __atomic_load_n(&payload_blocks_, __ATOMIC_ACQUIRE);
    }

    // The trims (UNMAP, WRITE SAME with UNMAP) since the previous call: how many, and the
    // allocated payload blocks before the first of them and after the last. trims == 0: none.
    struct TrimReport {
        uint64_t trims = 0;
        uint64_t before = 0;
        uint64_t after = 0;
    };
    [[nodiscard]] TrimReport take_trim_report();

private:
    static constexpr uint32_t kSerialLength = 36; // GUID text without braces

    // Re-reads the geometry (after a resize).
    void refresh();
    // Writes zeros over [offset, offset + length) (bytes, sector aligned).
    [[nodiscard]] ErrorOr<void> write_zero_bytes(uint64_t offset, uint64_t length);
    // Whether block `block` reads as zeros without being written (dynamic disks only).
    [[nodiscard]] bool block_reads_zero(uint64_t block) const;
    // Allocated payload blocks among those [offset, offset + length) touches (bytes).
    [[nodiscard]] uint64_t allocated_in(uint64_t offset, uint64_t length) const;
    // Every payload block (at construction and after a resize).
    [[nodiscard]] uint64_t count_allocated() const;
    // allocated_ after an operation on [offset, offset + length) that found `before` blocks
    // allocated there.
    void account(uint64_t offset, uint64_t length, uint64_t before);
    // A trim on [offset, offset + length) is about to run / has run.
    [[nodiscard]] uint64_t begin_trim(uint64_t offset, uint64_t length);
    void end_trim(uint64_t offset, uint64_t length, uint64_t before);

    vhdx::Disk& disk_;
    bool read_only_;
    bool fixed_ = false;
    bool has_parent_ = false;
    uint32_t logical_ = 512;
    uint32_t physical_ = 4096;
    uint32_t block_size_ = 0;
    uint32_t unmap_granularity_ = 0;
    uint64_t sectors_ = 0;
    DiskId id_;
    char serial_[kSerialLength + 1] = {};

    // Written by the I/O path only (atomic stores), read from anywhere.
    uint64_t allocated_ = 0;
    uint64_t payload_blocks_ = 0;
    // The trim report, shared with take_trim_report() callers on other CPUs.
    mm::SpinLock report_lock_;
    TrimReport report_;
};

} // namespace halcyon::vmm::storvsp
