// The host side of the exFAT library: an image file (or a byte range of one, for a partition)
// as a SectorDevice, malloc as the Allocator, the system clock.
#pragma once

#include "mgmt/datastore/exfat/clock.hpp"
#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <memory>
#include <string>

namespace halcyon::exfat::tool {

class FileSectorDevice final : public SectorDevice {
public:
    // Opens `path`; the device covers [offset, offset + length) of it (length 0: to the end).
    // On failure returns nullptr and sets `error`.
    static std::unique_ptr<FileSectorDevice> open(const std::string& path, bool writable,
                                                  uint32_t sector_size, uint64_t offset,
                                                  uint64_t length, std::string& error);
    ~FileSectorDevice() override;

    uint32_t sector_size() const override { return sector_size_; }
    uint64_t sector_count() const override { return sectors_; }
    ErrorOr<void> read(uint64_t sector, std::span<uint8_t> buffer) override;
    ErrorOr<void> write(uint64_t sector, std::span<const uint8_t> data) override;
    // A punched hole (the image stays sparse, and gigabytes of zeros cost no I/O); falls back to
    // writing zeros where the file system cannot punch holes.
    ErrorOr<void> write_zeros(uint64_t sector, uint64_t count,
                              std::span<const uint8_t> zeros) override;
    ErrorOr<void> flush() override;
    bool read_only() const override { return !writable_; }

    // For building images: flush() stops being a barrier and sync() does one fdatasync at the
    // end. A crash while the tool runs may then leave a damaged image; nothing else changes.
    void defer_flushes() { defer_flushes_ = true; }
    [[nodiscard]] ErrorOr<void> sync();

private:
    FileSectorDevice() = default;
    int fd_ = -1;
    bool writable_ = false;
    bool defer_flushes_ = false;
    uint32_t sector_size_ = 512;
    uint64_t offset_ = 0;
    uint64_t sectors_ = 0;
};

class MallocAllocator final : public Allocator {
public:
    void* allocate(size_t size, size_t align) override;
    void deallocate(void* pointer, size_t size, size_t align) override;
};

class SystemClock final : public Clock {
public:
    DateTime now() override;
};

} // namespace halcyon::exfat::tool
