// The core's memory map on a BIOS machine: the firmware's E820 map (as GRUB passes it) with the
// boot stage's claims laid over it, in the form the UEFI loader produces (handoff::MemoryRegion:
// whole pages, sorted, no overlaps, neighbours of the same type merged).
//
// BIOS maps are looser than UEFI's: entries need not be page aligned (e.g. usable memory up to
// 0x9FC00 with the EBDA above it) and may overlap. So usable entries shrink to the pages wholly
// inside them, every other entry grows to the pages it touches, and where entries overlap the
// more restrictive type wins (anything beats usable). A claim must lie in usable memory and may
// not overlap another claim. Pure code (no allocation: the caller passes scratch space), unit
// tested on the host.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "boot/multiboot2/boot_memory.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::multiboot2 {

// How the core must treat memory of the given E820 type.
[[nodiscard]] handoff::MemoryType classify_bios_memory_type(uint32_t type);

// Scratch needed for `region_count` firmware regions and `claim_count` claims.
[[nodiscard]] constexpr size_t memory_map_scratch_size(size_t region_count, size_t claim_count) {
    return 2 * (region_count + claim_count);
}

// Writes the merged map into `out` and returns the number of regions. Errors: too little
// scratch or output space, a claim outside usable memory, overlapping claims.
[[nodiscard]] ErrorOr<size_t> build_memory_map(std::span<const FirmwareRegion> firmware,
                                               std::span<const Claim> claims,
                                               std::span<uint64_t> scratch,
                                               std::span<handoff::MemoryRegion> out);

} // namespace halcyon::multiboot2
