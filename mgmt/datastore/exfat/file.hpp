// An open file on an exFAT volume. Handles to the same file share one state in the volume, so
// every handle sees the same size. Writes are not durable until flush() (or Volume::sync()).
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::exfat {

class Volume;

class File {
public:
    File() = default;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    File(File&& other) { *this = static_cast<File&&>(other); }
    File& operator=(File&& other);
    // Closes without reporting errors; call close() to see them.
    ~File();

    [[nodiscard]] bool is_open() const { return volume_ != nullptr; }
    [[nodiscard]] bool writable() const { return writable_; }
    [[nodiscard]] uint64_t size() const;
    [[nodiscard]] uint64_t valid_size() const;
    // True when the data is one contiguous run of clusters (NoFatChain).
    [[nodiscard]] bool contiguous() const;

    // Reads up to buffer.size() bytes at offset; returns how many (short only at the end of the
    // file). Bytes past ValidDataLength read as zero.
    [[nodiscard]] ErrorOr<size_t> read(uint64_t offset, std::span<uint8_t> buffer);
    // Writes all of data at offset, growing the file as needed (a gap between the old valid
    // length and offset is zero-filled on disk).
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data);
    // Grows (allocating clusters; the new bytes read as zero) or shrinks. The new bytes are
    // zero-filled on disk at the next commit (flush, close, sync), unless written before it:
    // every committed entry has ValidDataLength == DataLength.
    [[nodiscard]] ErrorOr<void> set_size(uint64_t size);
    // Zero-fills at most `max_bytes` (rounded to whole clusters) of the bytes never written,
    // from ValidDataLength on, and returns how many remain. flush() fills all that remains in
    // one call; a caller that must not hold its lock that long (a new fixed VHDX of gigabytes)
    // calls this in slices first, dropping the lock in between. Not durable before flush().
    [[nodiscard]] ErrorOr<uint64_t> zero_fill(uint64_t max_bytes);
    // Makes the data and the directory entry durable: never-written bytes are zero-filled, data
    // and allocation are flushed before the entry is written, and the entry before flush()
    // returns.
    [[nodiscard]] ErrorOr<void> flush();
    [[nodiscard]] ErrorOr<void> close();

private:
    friend class Volume;
    File(Volume* volume, uint32_t node, bool writable)
        : volume_(volume), node_(node), writable_(writable) {}

    Volume* volume_ = nullptr;
    uint32_t node_ = 0;
    bool writable_ = false;
};

} // namespace halcyon::exfat
