// Multiprocessor bring-up: the BSP's local APIC and virtualization, then every other CPU the
// MADT lists, one at a time, through the real-mode trampoline (trampoline.S) with the
// INIT-SIPI-SIPI sequence of the Intel MP specification.
//
// Each AP runs ap_entry(): loads its GDT/IDT/TSS (load_cpu_tables), enables its local APIC,
// enables virtualization (vmm/virt), marks itself online and parks (interrupts off, hlt loop).
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/acpi/acpi.hpp"

#include <stdint.h>

namespace halcyon::x86::smp {

// How long the BSP waits for one AP to report online. Generous because QEMU's TCG can take a
// long time to translate the AP's first code.
inline constexpr uint64_t kApOnlineTimeoutMicroseconds = 5'000'000;
// The same for a CPU the MADT marks only online-capable (hot-pluggable, usually absent).
inline constexpr uint64_t kOnlineCapableTimeoutMicroseconds = 500'000;

// Preconditions: the BSP ran load_cpu_tables() for PerCpu index 0, the heap exists (AP PerCpu
// blocks and stacks come from it), the TSC is calibrated (or the FADT has a PM timer), and the
// core's page tables are loaded with the local APIC page in the direct map and
// `handoff.ap_trampoline` identity-mapped executable.
//
// Returns how many CPUs are online, the BSP included. A CPU that does not come up is logged
// with its APIC ID and not counted. Fails only when SMP cannot be attempted at all (no usable
// trampoline page, no local APIC, ...); the BSP is then still the one working CPU.
[[nodiscard]] ErrorOr<uint32_t> start_application_processors(const acpi::Machine& machine,
                                                             const handoff::Handoff& handoff,
                                                             mm::FrameAllocator& frames);

// CPUs online so far (1 before start_application_processors()).
[[nodiscard]] uint32_t online_cpu_count();

} // namespace halcyon::x86::smp
