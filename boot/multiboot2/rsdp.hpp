// The ACPI Root System Description Pointer on a BIOS machine (ACPI 6.5, 5.2.5): GRUB passes a
// copy in the boot information; when it does not, the RSDP is found where the specification
// puts it on IA-PC systems: on a 16-byte boundary in the first KiB of the EBDA or in the BIOS
// area 0xE0000-0xFFFFF. Pure code over byte spans, unit tested on the host.
#pragma once

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::multiboot2 {

inline constexpr size_t kRsdpV1Size = 20;
inline constexpr size_t kRsdpV2Size = 36;

// True when `bytes` starts with an RSDP with a valid signature and checksum (and, for revision
// 2 and later, a valid length and extended checksum, all within `bytes`).
[[nodiscard]] bool is_valid_rsdp(std::span<const uint8_t> bytes);

// The size of the valid RSDP at the start of `bytes` (kRsdpV1Size, or its length field for
// ACPI 2.0+), or 0.
[[nodiscard]] size_t rsdp_size(std::span<const uint8_t> bytes);

// Offset of the first valid RSDP on a 16-byte boundary of `area` (whose first byte is 16-byte
// aligned in physical memory), if any.
[[nodiscard]] std::optional<size_t> find_rsdp(std::span<const uint8_t> area);

} // namespace halcyon::multiboot2
