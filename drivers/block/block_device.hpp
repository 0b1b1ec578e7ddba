// The one interface the datastore sees, whatever the disk is: virtio-blk, NVMe or an AHCI SATA
// port. Whole logical sectors move between the device and DMA memory the caller owns (or
// ordinary memory through bounce_buffer.hpp). Durability is explicit and never overstated:
//
//   - write(..., WriteMode::normal) may sit in the device's volatile cache until flush();
//   - write(..., WriteMode::fua) is durable when it returns: the device's Force Unit Access when
//     it has one (NVMe, ATA WRITE DMA FUA EXT), else the write followed by a cache flush;
//   - flush() makes every completed write durable: the device's flush command, or nothing when
//     the device has no volatile cache (write-through). A device that caches writes and has no
//     flush command makes flush() fail rather than pretend.
//
// Every wait for the device is bounded (drivers take a Delay and timeouts); a device that does
// not answer in time, or answers nonsense, puts the driver in a failed state in which every
// call returns an error instead of reusing memory the device may still write.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "lib/base/error_or.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block {

enum class Kind : uint8_t { virtio_blk, nvme, ahci };
[[nodiscard]] const char* kind_name(Kind kind);

enum class WriteMode : uint8_t {
    normal, // may stay in the device's volatile cache until flush()
    fua,    // durable when write() returns
};

inline constexpr size_t kModelLength = 40;  // ATA and NVMe both use 40 characters
inline constexpr size_t kSerialLength = 20; // likewise (virtio-blk's GET_ID too)

struct DiskInfo {
    Kind kind = Kind::virtio_blk;
    uint32_t sector_size = 512; // logical sector (LBA) size in bytes, a power of two >= 512
    uint64_t sector_count = 0;
    uint32_t max_transfer_sectors = 0; // per device command; larger requests are split
    bool read_only = false;
    // Completed writes may sit in a volatile cache until a flush.
    bool volatile_cache = false;
    // The device has a flush command and flush() uses it.
    bool flush_command = false;
    // Writes with WriteMode::fua use the device's own FUA (else write + flush).
    bool native_fua = false;
    char model[kModelLength + 1] = {};   // trimmed, printable ASCII
    char serial[kSerialLength + 1] = {}; // trimmed, printable ASCII; may be empty

    [[nodiscard]] uint64_t capacity_bytes() const { return sector_count * sector_size; }
};

// Part of a DmaRegion: `bytes` at `offset` (clamped to the region; empty when out of range).
[[nodiscard]] DmaRegion dma_slice(const DmaRegion& region, size_t offset, size_t bytes);

class BlockDevice {
public:
    [[nodiscard]] const DiskInfo& info() const { return info_; }
    // True once the device timed out or misbehaved: every call fails from then on.
    [[nodiscard]] bool failed() const { return failed_; }

    // Reads `count` sectors from `lba` into `buffer` (physically contiguous DMA memory of at
    // least count * sector_size bytes whose device address is 4-byte aligned).
    [[nodiscard]] ErrorOr<void> read(uint64_t lba, uint32_t count, const DmaRegion& buffer);
    // Writes `count` sectors at `lba` from `buffer` (same rules); see WriteMode.
    [[nodiscard]] ErrorOr<void> write(uint64_t lba, uint32_t count, const DmaRegion& buffer,
                                      WriteMode mode = WriteMode::normal);
    // Every completed write is durable when this returns successfully.
    [[nodiscard]] ErrorOr<void> flush();

protected:
    BlockDevice() = default;
    ~BlockDevice() = default;
    BlockDevice(const BlockDevice&) = delete;
    BlockDevice& operator=(const BlockDevice&) = delete;

    // One device command of at most info().max_transfer_sectors sectors, arguments checked.
    // `fua` is only set when info().native_fua.
    [[nodiscard]] virtual ErrorOr<void> transfer(bool write, uint64_t lba, uint32_t count,
                                                 uint64_t device_address, bool fua) = 0;
    // The device's flush command (only called when info().flush_command).
    [[nodiscard]] virtual ErrorOr<void> flush_cache() = 0;

    // Drivers fill info_ while starting and set failed_ when the device stops being trustworthy.
    DiskInfo info_;
    bool failed_ = false;
    bool started_ = false;

private:
    [[nodiscard]] ErrorOr<void> check_request(uint64_t lba, uint32_t count,
                                              const DmaRegion& buffer) const;
};

// Copies `length` bytes of a device's fixed-width, space-padded string into `out`, replacing
// unprintable bytes with '?' and dropping leading and trailing spaces and NULs.
void copy_trimmed(char* out, size_t out_size, const uint8_t* text, size_t length);

} // namespace halcyon::drivers::block
