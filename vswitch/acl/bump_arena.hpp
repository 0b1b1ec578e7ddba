// A bump allocator over memory the caller handed us. The ACL compiles a rule set into one of
// these in a single pass and throws the whole arena away on the next update, so nothing ever
// needs freeing one object at a time and no hidden heap is involved.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

class BumpArena {
public:
    BumpArena() = default;
    explicit BumpArena(std::span<std::byte> memory) : memory_(memory) {}

    // Returns uninitialised storage for `count` objects of T, or nullptr when the arena is full.
    template <typename T>
    [[nodiscard]] T* allocate_array(size_t count) {
        uintptr_t base = reinterpret_cast<uintptr_t>(memory_.data());
        uintptr_t start = (base + used_ + alignof(T) - 1) & ~(uintptr_t{alignof(T)} - 1);
        size_t offset = start - base;
        if (offset > memory_.size() || count > (memory_.size() - offset) / sizeof(T))
            return nullptr;
        used_ = offset + count * sizeof(T);
        return reinterpret_cast<T*>(start);
    }

    void reset() { used_ = 0; }
    [[nodiscard]] size_t used() const { return used_; }
    [[nodiscard]] size_t capacity() const { return memory_.size(); }

    // Worst-case bytes for `count` objects of T including alignment padding.
    template <typename T>
    [[nodiscard]] static constexpr size_t bytes_for(size_t count) {
        return count * sizeof(T) + alignof(T);
    }

private:
    std::span<std::byte> memory_;
    size_t used_ = 0;
};

} // namespace halcyon::vswitch::acl
