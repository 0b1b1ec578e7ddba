// The datastore's view of a disk: exFAT's SectorDevice (mgmt/datastore/exfat/sector_device.hpp)
// over a BlockDevice, copying through a BounceBuffer (the file system's buffers are ordinary
// memory). flush() is BlockDevice::flush(), so its barrier is exactly the device's: a device
// that caches writes without a flush command makes it fail instead of promising durability.
#pragma once

#include "drivers/block/block_device.hpp"
#include "drivers/block/bounce_buffer.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

namespace halcyon::drivers::block {

class ExfatSectorDevice final : public exfat::SectorDevice {
public:
    // `device` and `bounce` outlive this adapter; `bounce` is not shared with other users while
    // a call runs.
    ExfatSectorDevice(BlockDevice& device, BounceBuffer& bounce)
        : device_(device), bounce_(bounce) {}

    [[nodiscard]] uint32_t sector_size() const override { return device_.info().sector_size; }
    [[nodiscard]] uint64_t sector_count() const override { return device_.info().sector_count; }
    [[nodiscard]] ErrorOr<void> read(uint64_t sector, std::span<uint8_t> buffer) override;
    [[nodiscard]] ErrorOr<void> write(uint64_t sector, std::span<const uint8_t> data) override;
    [[nodiscard]] ErrorOr<void> flush() override { return device_.flush(); }
    [[nodiscard]] bool read_only() const override { return device_.info().read_only; }

private:
    BlockDevice& device_;
    BounceBuffer& bounce_;
};

} // namespace halcyon::drivers::block
