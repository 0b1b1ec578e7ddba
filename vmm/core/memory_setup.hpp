// Taking over memory from the loader: the frame allocator over the hand-off's memory map, the
// core's own page tables (W^X image, direct map, devices, the AP trampoline identity-mapped),
// and the heap.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/acpi/acpi.hpp"

namespace halcyon::memory_setup {

// Builds the frame allocator (kept for the core's lifetime) and returns it.
[[nodiscard]] ErrorOr<mm::FrameAllocator*> init_frames(const handoff::Handoff& handoff);

// Builds the core address space and loads it into CR3 on this CPU. `machine` names the device
// ranges to map (local APIC, I/O APICs, HPET); the framebuffer comes from the hand-off.
// Returns the PML4's physical address (APs load the same one).
[[nodiscard]] ErrorOr<uint64_t> switch_to_core_address_space(const handoff::Handoff& handoff,
                                                             const acpi::Machine* machine,
                                                             mm::FrameAllocator& frames);

} // namespace halcyon::memory_setup
