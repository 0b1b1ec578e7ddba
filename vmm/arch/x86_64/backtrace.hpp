// Frame-pointer stack walking. The core is compiled with -fno-omit-frame-pointer, so every frame
// starts with [saved rbp][return address]; core_entry clears rbp, which ends the chain. The walk
// trusts nothing: it stops at the first frame pointer that is non-canonical, misaligned, outside
// the stack being walked, or not above the previous one (a loop or a smashed stack).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::x86 {

struct StackBounds {
    uint64_t low;  // lowest valid address
    uint64_t high; // one past the highest
    [[nodiscard]] bool contains(uint64_t address, uint64_t size) const {
        return address >= low && address <= high && size <= high - address;
    }
};

// The stack of the current CPU (kernel stack or one of its IST stacks) that contains `address`;
// {0, 0} if none is known. Before per-CPU data exists, only the boot stack is known.
[[nodiscard]] StackBounds stack_containing(uint64_t address);

// Registers the BSP's boot stack (virtual bounds) for backtraces before per-CPU data exists.
void set_boot_stack(StackBounds bounds);

// Collects up to `capacity` return addresses starting from frame pointer `rbp`; returns how many.
size_t walk_frame_pointers(uint64_t rbp, uint64_t* return_addresses, size_t capacity);

} // namespace halcyon::x86
