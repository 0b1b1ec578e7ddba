// The management partition's identity-mapped RAM region as the core fills it before entry
// (docs/management-partition.md, "Memory"; offsets from the region base R, which is also its
// guest-physical address):
//
//   R + 0x0000  MgmtBootInfo (mgmt/partition/abi/boot_info.hpp)
//   R + 0x1000  PML4; R + 0x2000 the PDPT of VA 0..512 GiB (1 GiB pages, identity), shared by
//               the direct-map slot (VA kDirectMapBase ..); R + 0x3000 the PDPT of the top
//               512 GiB; R + 0x4000 the PD of VA 0xFFFFFFFF80000000 .. +1 GiB -> R + 2 MiB
//               (2 MiB pages); R + 0x5000 the GDT (null, 0x08 code64, 0x10 data); from
//               R + 0x6000 PDPTs for NIC registers above 512 GiB (RegionFacts::device_ranges)
//   R + 2 MiB   the image: every PT_LOAD segment at its offset from 0xFFFFFFFF80000000,
//               the rest of its memory size zeroed
//   after it    (4 KiB aligned) the copy of halcyon.cfg's text, then free memory up to R + size
//
// Entry: RIP = the ELF entry, RSP = R + 2 MiB, RDI = R. Pure code (host unit tests build
// regions in ordinary memory); the image is validated before a byte is written.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt_host {

inline constexpr uint64_t kPml4Offset = 0x1000;
inline constexpr uint64_t kLowPdptOffset = 0x2000;
inline constexpr uint64_t kHighPdptOffset = 0x3000;
inline constexpr uint64_t kImagePdOffset = 0x4000;
inline constexpr uint64_t kGdtOffset = 0x5000;
inline constexpr uint64_t kExtraTablesOffset = 0x6000;
inline constexpr uint64_t kTablesEnd = 0x10'0000; // the tables' area ends at R + 1 MiB
// The lower canonical half (48-bit virtual addresses): device memory above it is refused.
inline constexpr uint64_t kCanonicalLimit = 1ull << 47;
inline constexpr uint16_t kCodeSelector = 0x08;
inline constexpr uint16_t kDataSelector = 0x10;
inline constexpr uint16_t kGdtLimit = 3 * 8 - 1;

// What the core tells the partition besides the layout (MgmtBootInfo's other fields).
struct RegionFacts {
    uint64_t tsc_hz = 0;
    uint64_t core_entry_tsc = 0;
    uint64_t host_memory_bytes = 0;
    uint32_t logical_processors = 0;
    const char* virtualization = "none";
    bool nic_present = false;
    uint16_t nic_segment = 0;
    uint8_t nic_bus = 0, nic_device = 0, nic_function = 0;
    uint64_t restarts = 0;
    uint32_t crash_test = 0;
    // The NIC's memory BARs. Those above the 512 GiB identity map (firmware puts 64-bit BARs
    // high) get identity 1 GiB pages of their own, in PDPTs after the GDT (at most 1 MiB of
    // tables in all); only the gigabytes they touch, so the rest stays unmapped.
    struct Range {
        uint64_t base = 0, size = 0;
    };
    Range device_ranges[6];
    uint32_t device_range_count = 0;
};

struct RegionEntry {
    uint64_t rip = 0;
    uint64_t rsp = 0;
    uint64_t rdi = 0;
    uint64_t cr3 = 0;
    uint64_t gdt_base = 0;
    uint64_t image_span = 0; // bytes from R + 2 MiB to the end of the highest segment
    uint64_t free_base = 0;
};

// Checks `elf` as a management image: ELF64 x86-64 executable, at least one PT_LOAD segment,
// every segment within [0xFFFFFFFF80000000, +16 MiB), the entry point inside an executable
// segment. Returns the span of the segments (bytes from the link base).
[[nodiscard]] ErrorOr<uint64_t> check_image(std::span<const uint8_t> elf);

// Writes everything into `region` (the region's bytes, zeroed by the caller; `base` its
// physical address, 2 MiB aligned). Fails without entering if the image is bad or the region
// too small for image, config text and at least one free page.
[[nodiscard]] ErrorOr<RegionEntry> build_region(std::span<uint8_t> region, uint64_t base,
                                                std::span<const uint8_t> elf,
                                                std::string_view config_text,
                                                const RegionFacts& facts);

} // namespace halcyon::mgmt_host
