// The write side of the VHDX log (MS-VHDX 2.3): turns metadata updates into log entries and
// applies them.
//
// Protocol for each entry: write the entry at the head of the circular log, flush, write the
// updates to their final locations, flush. Because an entry is fully applied and flushed before
// the next one is written, each entry's tail points at itself: replay after a crash only needs
// the newest valid entry, and re-applying it is idempotent. Entries are at most half the log,
// so writing entry N+1 can never overwrite entry N — a torn N+1 always leaves N intact (if an
// older entry were replayed instead, it would undo N).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/guid.hpp"
#include "vhdx/log_update.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vhdx {

class LogWriter {
public:
    void init(uint64_t log_offset, uint32_t log_length) {
        log_offset_ = log_offset;
        log_length_ = log_length;
    }
    // Starts a new log generation (the caller has just written `guid` into the headers).
    void start(const Guid& guid) {
        guid_ = guid;
        head_ = 0;
        sequence_ = 1;
        active_ = true;
    }
    void stop() { active_ = false; }
    [[nodiscard]] bool active() const { return active_; }
    [[nodiscard]] const Guid& guid() const { return guid_; }

    // Logs and applies `updates` (in order; later updates win where they overlap), splitting
    // them into as many entries as needed. file_size is the current (flushed) size of the file,
    // recorded as FlushedFileOffset and LastFileOffset.
    [[nodiscard]] ErrorOr<void> commit(BlockIo& io, Allocator& allocator,
                                       std::span<const LogUpdate> updates, uint64_t file_size);

private:
    struct Piece {
        uint64_t file_offset;
        uint64_t length;     // zero pieces: any multiple of 4 KiB; data pieces: 4 KiB
        const uint8_t* data; // nullptr: zero
    };
    [[nodiscard]] ErrorOr<void> write_entry(BlockIo& io, Allocator& allocator,
                                            std::span<const Piece> pieces, uint64_t file_size);

    uint64_t log_offset_ = 0;
    uint32_t log_length_ = 0;
    Guid guid_{};
    uint32_t head_ = 0;
    uint64_t sequence_ = 1;
    bool active_ = false;
};

} // namespace halcyon::vhdx
