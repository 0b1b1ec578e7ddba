#include "mgmt/datastore/sector_window.hpp"

namespace halcyon::datastore {

ErrorOr<void> SectorWindow::check(uint64_t sector, size_t bytes) const {
    const uint32_t size = device_.sector_size();
    if (bytes % size != 0)
        return Error(ErrorCode::invalid_argument, "datastore: a transfer of partial sectors");
    const uint64_t sectors = bytes / size;
    if (sector > count_ || sectors > count_ - sector)
        return Error(ErrorCode::out_of_range, "datastore: an access beyond the partition's end");
    return {};
}

ErrorOr<void> SectorWindow::read(uint64_t sector, std::span<uint8_t> buffer) {
    TRY(check(sector, buffer.size()));
    return device_.read(first_ + sector, buffer);
}

ErrorOr<void> SectorWindow::write(uint64_t sector, std::span<const uint8_t> data) {
    TRY(check(sector, data.size()));
    return device_.write(first_ + sector, data);
}

ErrorOr<void> SectorWindow::write_zeros(uint64_t sector, uint64_t count,
                                        std::span<const uint8_t> zeros) {
    if (sector > count_ || count > count_ - sector)
        return Error(ErrorCode::out_of_range, "datastore: an access beyond the partition's end");
    // Forwarded, so the disk's own way of zeroing (if it has one) is used.
    return device_.write_zeros(first_ + sector, count, zeros);
}

} // namespace halcyon::datastore
