// A range of sectors of a SectorDevice seen as a device of its own: a partition, so the exFAT
// library (which addresses its volume from sector 0) runs on a partitioned disk. Requests are
// checked against the window so the volume can never touch sectors outside its partition.
#pragma once

#include "mgmt/datastore/exfat/sector_device.hpp"

#include <stdint.h>

namespace halcyon::datastore {

class SectorWindow final : public exfat::SectorDevice {
public:
    // `first` and `count` must lie inside `device` (the partition table reader checks that).
    SectorWindow(exfat::SectorDevice& device, uint64_t first, uint64_t count)
        : device_(device), first_(first), count_(count) {}

    [[nodiscard]] uint32_t sector_size() const override { return device_.sector_size(); }
    [[nodiscard]] uint64_t sector_count() const override { return count_; }
    [[nodiscard]] ErrorOr<void> read(uint64_t sector, std::span<uint8_t> buffer) override;
    [[nodiscard]] ErrorOr<void> write(uint64_t sector, std::span<const uint8_t> data) override;
    [[nodiscard]] ErrorOr<void> write_zeros(uint64_t sector, uint64_t count,
                                            std::span<const uint8_t> zeros) override;
    [[nodiscard]] ErrorOr<void> flush() override { return device_.flush(); }
    [[nodiscard]] bool read_only() const override { return device_.read_only(); }

    [[nodiscard]] uint64_t first_sector() const { return first_; }

private:
    [[nodiscard]] ErrorOr<void> check(uint64_t sector, size_t bytes) const;

    exfat::SectorDevice& device_;
    uint64_t first_;
    uint64_t count_;
};

} // namespace halcyon::datastore
