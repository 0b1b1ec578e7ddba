// Reading the loader's hand-off: validation (the core refuses a hand-off from a mismatched loader
// instead of misreading it), typed access to its tables through the direct map, and the boot
// summary the core logs.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"

#include <optional>
#include <span>
#include <stdint.h>

namespace halcyon::boot_info {

template <typename T = void>
[[nodiscard]] inline T* direct_map(uint64_t physical) {
    return reinterpret_cast<T*>(handoff::kDirectMapBase + physical);
}

// Checks magic, version and size; the message says what did not match.
[[nodiscard]] ErrorOr<const handoff::Handoff*> validate(uint64_t handoff_physical);

[[nodiscard]] std::span<const handoff::MemoryRegion> memory_map(const handoff::Handoff& handoff);
[[nodiscard]] std::span<const handoff::Module> modules(const handoff::Handoff& handoff);
// A module's bytes (through the direct map), or nullopt when the loader brought none by that name.
[[nodiscard]] std::optional<std::span<const uint8_t>> module_bytes(const handoff::Handoff& handoff,
                                                                   const char* name);
// One past the highest physical address in the memory map.
[[nodiscard]] uint64_t highest_address(const handoff::Handoff& handoff);

// Logs memory, modules, ACPI, framebuffer, boot source and the loader's timing.
void log_summary(const handoff::Handoff& handoff);

} // namespace halcyon::boot_info
