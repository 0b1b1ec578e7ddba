// The local APIC of each CPU: enabling it, its ID, inter-processor interrupts (INIT, STARTUP,
// fixed) and end-of-interrupt.
//
// Two register interfaces exist. xAPIC: memory-mapped registers at the APIC base (from
// IA32_APIC_BASE; the MADT says the same), reached through the core's direct map. x2APIC: the
// same registers as MSRs 0x800 + offset/16, with 32-bit APIC IDs and a single 64-bit ICR write.
// x2APIC is used whenever CPUID.1:ECX[21] offers it (and always when the firmware already
// switched to it, since leaving x2APIC mode needs a full APIC disable).
//
// The mode is chosen once on the BSP (initialize) and every CPU then enables its own APIC in
// that mode (enable_this_cpu).
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::x86::lapic {

enum class Mode : uint8_t { uninitialized, xapic, x2apic };

[[nodiscard]] const char* mode_name(Mode mode);

// Vector the APIC raises for spurious interrupts (SVR); handled as spurious by the IDT.
inline constexpr uint8_t kSpuriousVector = 0xFF;

// Picks the mode and records the xAPIC register base. `acpi_address` is the MADT's local APIC
// address, used only to cross-check IA32_APIC_BASE. Must run on the BSP before anything else
// here. The xAPIC page must be mapped (uncached) in the core's direct map.
[[nodiscard]] ErrorOr<void> initialize(uint64_t acpi_address);

[[nodiscard]] Mode mode();
// Physical address of the xAPIC registers (meaningful in xAPIC mode only).
[[nodiscard]] uint64_t xapic_base();

// Enables the calling CPU's local APIC in the chosen mode, software-enables it (SVR), accepts
// all priorities (TPR = 0) and clears latched errors.
void enable_this_cpu();

// The calling CPU's APIC ID (8 bits in xAPIC mode, 32 in x2APIC mode).
[[nodiscard]] uint32_t current_id();

// IPIs to one CPU by APIC ID. In xAPIC mode each waits (up to 100 ms) for the ICR's delivery
// status to clear and fails with `timeout` otherwise; in x2APIC mode the ICR write is itself
// synchronous.
[[nodiscard]] ErrorOr<void> send_init(uint32_t apic_id);
// STARTUP IPI: the target starts in real mode at `vector_page` * 4 KiB (below 1 MiB).
[[nodiscard]] ErrorOr<void> send_startup(uint32_t apic_id, uint8_t vector_page);
[[nodiscard]] ErrorOr<void> send_fixed(uint32_t apic_id, uint8_t vector);

// Signals the end of the interrupt being serviced on this CPU.
void end_of_interrupt();

// The error status register (after latching it), for diagnostics when an IPI fails.
[[nodiscard]] uint32_t read_error_status();

} // namespace halcyon::x86::lapic
