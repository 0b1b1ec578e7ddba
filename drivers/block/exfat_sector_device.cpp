#include "drivers/block/exfat_sector_device.hpp"

namespace halcyon::drivers::block {

ErrorOr<void> ExfatSectorDevice::read(uint64_t sector, std::span<uint8_t> buffer) {
    if (buffer.empty())
        return {};
    return bounce_.read(device_, sector, buffer);
}

ErrorOr<void> ExfatSectorDevice::write(uint64_t sector, std::span<const uint8_t> data) {
    if (data.empty())
        return {};
    return bounce_.write(device_, sector, data, WriteMode::normal);
}

} // namespace halcyon::drivers::block
