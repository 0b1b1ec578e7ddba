// Physical memory for the Multiboot2 boot stage. There is no firmware allocator after GRUB: the
// stage takes memory itself from what the BIOS memory map (E820, as GRUB passes it) calls
// available, minus what is already in use (the stage's own image, GRUB's boot information and
// modules, page 0). Every allocation - and every GRUB module handed on in place - is recorded
// as a Claim with the hand-off memory type it gets, so the memory map built for the core
// (bios_memory_map.hpp) marks it taken. Pure code (no memory is touched), unit tested on the
// host.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::multiboot2 {

inline constexpr uint64_t kPageSize = 4096;

// One entry of the firmware's memory map, copied out of the boot information.
struct FirmwareRegion {
    uint64_t base;
    uint64_t length;
    uint32_t type; // MemoryMapType
};

struct PhysicalRange {
    uint64_t base;
    uint64_t end; // exclusive
};

// Memory the stage hands to the core for a purpose (efi_type is the loader's kEfiType* tag, as
// the UEFI loader would have allocated it, and shows up in the core's memory map log).
struct Claim {
    uint64_t base; // page aligned
    uint64_t size; // page multiple
    handoff::MemoryType type;
    uint32_t efi_type;
};

class BootMemory {
public:
    static constexpr size_t kMaxFreeRanges = 256;
    static constexpr size_t kMaxClaims = 256;

    // Adds available RAM [base, base + length), shrunk to whole pages. Overlapping or adjacent
    // ranges are merged.
    [[nodiscard]] ErrorOr<void> add_available(uint64_t base, uint64_t length);
    // Removes [base, end), widened to whole pages, from the free memory: it is in use.
    [[nodiscard]] ErrorOr<void> reserve(uint64_t base, uint64_t end);

    // The highest `size` bytes (rounded up to pages), aligned to `alignment` (a power of two, at
    // least a page), that end at or below `below` and start at or above `above`. The range is
    // taken from the free memory and recorded as a claim of `type`.
    [[nodiscard]] ErrorOr<uint64_t> allocate(uint64_t size, uint64_t alignment, uint64_t above,
                                             uint64_t below, handoff::MemoryType type,
                                             uint32_t efi_type);
    // Records memory that is already in use (and reserved) as handed to the core.
    [[nodiscard]] ErrorOr<void> claim(uint64_t base, uint64_t size, handoff::MemoryType type,
                                      uint32_t efi_type);

    [[nodiscard]] std::span<const PhysicalRange> free_ranges() const {
        return {free_, free_count_};
    }
    [[nodiscard]] std::span<const Claim> claims() const { return {claims_, claim_count_}; }

private:
    [[nodiscard]] ErrorOr<void> insert_free(size_t index, PhysicalRange range);
    void remove_free(size_t index);
    [[nodiscard]] ErrorOr<void> take(uint64_t base, uint64_t end);

    PhysicalRange free_[kMaxFreeRanges] = {};
    size_t free_count_ = 0;
    Claim claims_[kMaxClaims] = {};
    size_t claim_count_ = 0;
};

} // namespace halcyon::multiboot2
