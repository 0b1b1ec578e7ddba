// A bump allocator over memory the caller owns: the only way mgmt/api gets memory. The server
// takes all it needs at creation and never frees, so the management partition knows its exact
// footprint up front (Server::memory_needed) and nothing can run out later.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt {

class Arena {
public:
    explicit Arena(std::span<uint8_t> memory) : memory_(memory) {}

    // `alignment` is a power of two. Null when the arena is exhausted.
    [[nodiscard]] void* allocate(size_t size, size_t alignment) {
        uintptr_t base = reinterpret_cast<uintptr_t>(memory_.data());
        uintptr_t aligned = (base + used_ + alignment - 1) & ~(uintptr_t(alignment) - 1);
        size_t offset = size_t(aligned - base);
        if (offset > memory_.size() || size > memory_.size() - offset)
            return nullptr;
        used_ = offset + size;
        return memory_.data() + offset;
    }

    template <typename T>
    [[nodiscard]] T* allocate_array(size_t count) {
        if (count > SIZE_MAX / sizeof(T))
            return nullptr;
        return static_cast<T*>(allocate(sizeof(T) * count, alignof(T)));
    }

    [[nodiscard]] size_t used() const { return used_; }
    [[nodiscard]] size_t capacity() const { return memory_.size(); }

private:
    std::span<uint8_t> memory_;
    size_t used_ = 0;
};

} // namespace halcyon::mgmt
