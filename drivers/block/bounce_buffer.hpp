// Disk I/O to and from ordinary memory (not DMA-able, not contiguous, any alignment) through one
// DMA buffer owned here: each chunk is copied in before a write or out after a read.
#pragma once

#include "drivers/block/block_device.hpp"
#include "drivers/net/device_memory.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block {

class BounceBuffer {
public:
    // Takes `bytes` (rounded up to pages) of DMA memory, once; the larger, the fewer commands.
    [[nodiscard]] ErrorOr<void> allocate(DmaAllocator& dma, size_t bytes = 64 * 1024);
    // Uses memory the caller already has (page aligned DMA memory, at least one sector).
    void adopt(const DmaRegion& region) { region_ = region; }
    [[nodiscard]] const DmaRegion& region() const { return region_; }

    // Whole sectors: out.size() and data.size() are multiples of the device's sector size.
    [[nodiscard]] ErrorOr<void> read(BlockDevice& device, uint64_t lba, std::span<uint8_t> out);
    [[nodiscard]] ErrorOr<void> write(BlockDevice& device, uint64_t lba,
                                      std::span<const uint8_t> data,
                                      WriteMode mode = WriteMode::normal);

private:
    // Sectors per chunk; an error when the buffer cannot hold one sector.
    [[nodiscard]] ErrorOr<uint32_t> chunk_sectors(const BlockDevice& device, size_t bytes) const;

    DmaRegion region_;
};

} // namespace halcyon::drivers::block
