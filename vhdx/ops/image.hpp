// A virtual disk seen as a flat byte range, whatever stores it: a raw file (BlockIo) or a VHDX
// chain (Disk). Convert and merge are written once against these two interfaces.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/disk.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vhdx::ops {

class ImageSource {
public:
    virtual ~ImageSource() = default;
    [[nodiscard]] virtual uint64_t size() const = 0;
    [[nodiscard]] virtual uint32_t sector_size() const = 0;
    // Reads buffer.size() bytes at offset (sector aligned, inside size()).
    [[nodiscard]] virtual ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) = 0;
    // False only when [offset, offset + length) is known to read as zeros without reading it
    // (unallocated blocks); true means "read it and see".
    [[nodiscard]] virtual ErrorOr<bool> may_have_data(uint64_t offset, uint64_t length) = 0;
};

class ImageSink {
public:
    virtual ~ImageSink() = default;
    // Writes data at offset (sector aligned). The sink starts out reading as zeros everywhere,
    // so callers skip zero ranges.
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) = 0;
    [[nodiscard]] virtual ErrorOr<void> flush() = 0;
};

// A raw image file: the BlockIo's bytes are the disk's bytes. A file whose length is not a
// multiple of the sector size is seen rounded up, the tail reading as zeros (as qemu-img does).
class RawSource final : public ImageSource {
public:
    RawSource(BlockIo& io, uint64_t file_size, uint32_t sector_size = 512)
        : io_(io), file_size_(file_size), sector_size_(sector_size),
          size_((file_size + sector_size - 1) / sector_size * sector_size) {}
    uint64_t size() const override { return size_; }
    uint32_t sector_size() const override { return sector_size_; }
    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override;
    ErrorOr<bool> may_have_data(uint64_t, uint64_t) override { return true; }

private:
    BlockIo& io_;
    uint64_t file_size_;
    uint32_t sector_size_;
    uint64_t size_;
};

// A raw image being written; set_size(virtual size) must already have run (a sparse file of
// zeros), so only non-zero data is written.
class RawSink final : public ImageSink {
public:
    explicit RawSink(BlockIo& io) : io_(io) {}
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        return io_.write(offset, data);
    }
    ErrorOr<void> flush() override { return io_.flush(); }

private:
    BlockIo& io_;
};

// A VHDX disk and, through Disk::read, its whole parent chain.
class VhdxSource final : public ImageSource {
public:
    explicit VhdxSource(Disk& disk) : disk_(disk), info_(disk.info()) {}
    uint64_t size() const override { return info_.virtual_size; }
    uint32_t sector_size() const override { return info_.logical_sector_size; }
    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        return disk_.read(offset, buffer);
    }
    ErrorOr<bool> may_have_data(uint64_t offset, uint64_t length) override;

private:
    Disk& disk_;
    DiskInfo info_;
};

class VhdxSink final : public ImageSink {
public:
    explicit VhdxSink(Disk& disk) : disk_(disk) {}
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        return disk_.write(offset, data);
    }
    ErrorOr<void> flush() override { return disk_.flush(); }

private:
    Disk& disk_;
};

// Whether any disk of the chain starting at `disk` stores data for the range (present or
// partially present blocks, following not-present blocks of differencing disks to the parent).
[[nodiscard]] ErrorOr<bool> chain_may_have_data(Disk& disk, uint64_t offset, uint64_t length);

// Whether a buffer is all zero bytes.
[[nodiscard]] bool is_all_zero(std::span<const uint8_t> bytes);

} // namespace halcyon::vhdx::ops
