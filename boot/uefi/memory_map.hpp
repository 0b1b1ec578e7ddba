// Turns the firmware's memory map (GetMemoryMap output) into the core's handoff::MemoryRegion
// list: each descriptor classified into a handoff::MemoryType, sorted by address, and
// neighbours of the same kind merged. Pure code (no firmware calls, no allocation): it runs
// right after ExitBootServices, when nothing may be allocated any more, and is unit tested on
// the host.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::loader {

// How the core must treat memory of the given EFI type (including the loader's own types).
[[nodiscard]] handoff::MemoryType classify_efi_memory_type(uint32_t efi_type);

// `map` is the raw buffer GetMemoryMap filled, `descriptor_size` the stride it reported.
// Writes the normalized regions into `out` and returns how many there are. Errors: a stride
// smaller than a descriptor, regions that wrap around or overlap, or more regions than `out`
// holds.
[[nodiscard]] ErrorOr<size_t> normalize_memory_map(std::span<const uint8_t> map,
                                                   size_t descriptor_size,
                                                   std::span<handoff::MemoryRegion> out);

// One past the highest physical address any descriptor covers (0 for an empty map).
[[nodiscard]] uint64_t highest_memory_map_address(std::span<const uint8_t> map,
                                                  size_t descriptor_size);

} // namespace halcyon::loader
