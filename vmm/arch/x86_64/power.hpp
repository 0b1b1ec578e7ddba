// Powering the machine off through ACPI fixed hardware (ACPI spec, "Initiating system sleep
// state transitions" / S5 soft-off): SLP_TYPx from \_S5 and SLP_EN written to PM1a_CNT (and
// PM1b_CNT when the FADT has one).
#pragma once

#include "vmm/acpi/acpi.hpp"

namespace halcyon::x86::power {

// Prints "HALCYON POWEROFF", then enters S5. If the machine is still running a second later
// (no \_S5, hardware-reduced ACPI, firmware that ignores the write), logs "power-off failed"
// and halts this CPU for good.
[[noreturn]] void acpi_power_off(const acpi::Machine& machine);

} // namespace halcyon::x86::power
