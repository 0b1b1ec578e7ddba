// The guest's memory map as the kernel reads it from boot_params.e820_table. Halcyon guests have
// RAM from GPA 0 to their configured size; the map carves out what a PC reserves below 1 MiB:
//   RAM       [0, 0x9FC00)           conventional memory
//   reserved  [0x9FC00, 0xA0000)     where a BIOS keeps its EBDA (the kernel expects a hole)
//   (absent)  [0xA0000, 0xE0000)     the legacy VGA window and option ROMs
//   reserved  [0xE0000, 0x100000)    the guest's ACPI tables (vmm/worker/linux/acpi_tables.hpp)
//   RAM       [0x100000, memory end)
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/worker/linux/boot_protocol.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker::linux_boot {

inline constexpr uint64_t kConventionalMemoryEnd = 0x9'FC00;
inline constexpr uint64_t kLegacyHoleStart = 0xA'0000;
inline constexpr uint64_t kBiosAreaStart = 0xE'0000;
inline constexpr uint64_t kHighMemoryStart = 0x10'0000;
// Guest RAM is one block from GPA 0 and must stay below the 32-bit MMIO window (IOAPIC at
// 0xFEC00000, LAPIC at 0xFEE00000); the platform keeps it below 3 GiB.
inline constexpr uint64_t kMaxGuestMemory = 3ull << 30;
inline constexpr size_t kGuestE820Entries = 4;

// Fills `out` (at least kGuestE820Entries long) and returns the number of entries. Fails when
// the memory size leaves no RAM above 1 MiB or exceeds kMaxGuestMemory.
[[nodiscard]] ErrorOr<size_t> build_e820_map(uint64_t memory_bytes, std::span<E820Entry> out);

} // namespace halcyon::worker::linux_boot
