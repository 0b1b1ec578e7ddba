// What the firmware knows about the platform that the core needs: the ACPI RSDP and the
// graphics framebuffer.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "boot/uefi/efi/system_table.hpp"

#include <stdint.h>

namespace halcyon::loader {

// Physical address of the RSDP, preferring the ACPI 2.0+ one; 0 when there is none.
[[nodiscard]] uint64_t find_acpi_rsdp(const efi::SystemTable& system_table);

// The GOP framebuffer; physical_base 0 when there is no linear framebuffer (headless machines
// are fine).
[[nodiscard]] handoff::Framebuffer find_framebuffer(efi::BootServices& boot_services);

} // namespace halcyon::loader
