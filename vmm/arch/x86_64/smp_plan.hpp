// Which CPUs of the MADT the BSP tries to start, and how. Pure (no hardware access), so the
// rules are unit-tested on the host: the BSP itself, disabled entries, duplicate APIC IDs
// (buggy firmware: an INIT to a CPU that already runs would reset it) and IDs that the xAPIC
// cannot address are all skipped.
#pragma once

#include "vmm/acpi/acpi.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::x86::smp {

enum class ApDecision : uint8_t {
    start,             // enabled: start it and expect it to come up
    probe,             // online-capable only: try, but absence is normal (short timeout)
    skip_bsp,          // the CPU doing the starting
    skip_disabled,     // neither enabled nor online-capable
    skip_duplicate,    // same APIC ID as an earlier entry
    skip_needs_x2apic, // APIC ID above 255 while the APIC runs in xAPIC mode
};

[[nodiscard]] const char* decision_name(ApDecision decision);

// Fills decisions[i] for cpus[i] (decisions.size() must be >= cpus.size(); extra slots are left
// untouched). Returns how many entries are start or probe.
uint32_t plan_ap_starts(std::span<const acpi::Cpu> cpus, uint32_t bsp_apic_id, bool x2apic_mode,
                        std::span<ApDecision> decisions);

} // namespace halcyon::x86::smp
