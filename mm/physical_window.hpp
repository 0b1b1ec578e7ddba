// How mm/ code reaches physical memory: through a linear window (virtual = physical + offset).
// In the core the window is the direct map at handoff::kDirectMapBase; host tests point it at a
// buffer that plays the part of physical memory. mm/ itself never touches hardware.
#pragma once

#include "boot/handoff/handoff.hpp"
#include <stdint.h>

namespace halcyon::mm {

class PhysicalWindow {
public:
    // `offset` is added (modulo 2^64) to a physical address to get the virtual one.
    constexpr explicit PhysicalWindow(uint64_t offset) : offset_(offset) {}

    // The core's window: every physical page is mapped at kDirectMapBase + physical.
    [[nodiscard]] static constexpr PhysicalWindow direct_map() {
        return PhysicalWindow(handoff::kDirectMapBase);
    }
    // A host buffer standing in for physical memory that starts at `physical_base`.
    [[nodiscard]] static PhysicalWindow for_buffer(void* buffer, uint64_t physical_base) {
        return PhysicalWindow(reinterpret_cast<uintptr_t>(buffer) - physical_base);
    }

    template <typename T = void>
    [[nodiscard]] T* to_virtual(uint64_t physical) const {
        return reinterpret_cast<T*>(static_cast<uintptr_t>(physical + offset_));
    }
    [[nodiscard]] uint64_t to_physical(const void* virtual_address) const {
        return reinterpret_cast<uintptr_t>(virtual_address) - offset_;
    }
    [[nodiscard]] constexpr uint64_t offset() const { return offset_; }

private:
    uint64_t offset_;
};

} // namespace halcyon::mm
