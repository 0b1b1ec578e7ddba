// Powering a BIOS machine off: there is no firmware call for it (UEFI has ResetSystem), so the
// boot stage finds the ACPI sleep state S5 itself, with the core's own ACPI parser.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::multiboot2 {

// Enters S5 through the FADT's PM1 control registers and the DSDT's \_S5 package. Returns only
// when that is impossible (no \_S5, hardware-reduced ACPI) or did not take effect.
[[nodiscard]] ErrorOr<void> acpi_power_off(uint64_t rsdp_physical);

} // namespace halcyon::multiboot2
