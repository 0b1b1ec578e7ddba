// A VM's console: the last kCapacity bytes its serial port wrote, kept so they can be fetched
// later (the management API will serve them) even when nobody watched the host's serial log.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker {

class ConsoleBuffer {
public:
    static constexpr size_t kCapacity = 4096;

    void append(uint8_t byte) {
        bytes_[(start_ + size_) % kCapacity] = byte;
        if (size_ < kCapacity)
            ++size_;
        else
            start_ = (start_ + 1) % kCapacity; // full: the oldest byte goes
        ++total_;
    }

    // Copies the buffered bytes, oldest first; returns how many were copied.
    size_t copy(uint8_t* out, size_t capacity) const {
        const size_t count = size_ < capacity ? size_ : capacity;
        for (size_t i = 0; i < count; ++i)
            out[i] = bytes_[(start_ + size_ - count + i) % kCapacity];
        return count;
    }

    [[nodiscard]] size_t size() const { return size_; }
    [[nodiscard]] uint64_t total_written() const { return total_; }

private:
    uint8_t bytes_[kCapacity] = {};
    size_t start_ = 0;
    size_t size_ = 0;
    uint64_t total_ = 0;
};

} // namespace halcyon::worker
