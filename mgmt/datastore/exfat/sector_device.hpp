// The only way the exFAT library touches storage: whole sectors of a block device (NVMe, AHCI,
// virtio-blk in the hypervisor; a file in the host tool; memory with power cuts in the tests).
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::exfat {

class SectorDevice {
public:
    virtual ~SectorDevice() = default;

    // 512 or 4096. The volume's BytesPerSectorShift must match it.
    [[nodiscard]] virtual uint32_t sector_size() const = 0;
    [[nodiscard]] virtual uint64_t sector_count() const = 0;
    // Reads buffer.size() / sector_size() whole sectors starting at `sector`.
    [[nodiscard]] virtual ErrorOr<void> read(uint64_t sector, std::span<uint8_t> buffer) = 0;
    // Writes whole sectors; not durable until flush() succeeds. A single sector is written
    // atomically (old or new contents after a power cut, never a mix): the library's crash
    // ordering relies on that and on nothing larger.
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t sector, std::span<const uint8_t> data) = 0;
    // A barrier: every completed write is durable before flush() returns, and nothing written
    // after it can become durable before anything written before it.
    [[nodiscard]] virtual ErrorOr<void> flush() = 0;
    [[nodiscard]] virtual bool read_only() const = 0;
    // Writes `count` sectors of zeros from `sector` on, with the durability and per-sector
    // atomicity of write(). `zeros` is the caller's buffer of zeros (whole sectors, at least
    // one): the default writes from it in chunks of its size. A device that can zero without
    // moving data (an image file: a punched hole; a disk: a write-zeroes command) overrides it.
    [[nodiscard]] virtual ErrorOr<void> write_zeros(uint64_t sector, uint64_t count,
                                                    std::span<const uint8_t> zeros) {
        uint64_t per_chunk = zeros.size() / sector_size();
        if (per_chunk == 0)
            return Error(ErrorCode::invalid_argument, "sector device: zero buffer too small");
        while (count > 0) {
            uint64_t n = count < per_chunk ? count : per_chunk;
            TRY(write(sector, zeros.first(static_cast<size_t>(n * sector_size()))));
            sector += n;
            count -= n;
        }
        return {};
    }
};

} // namespace halcyon::exfat
