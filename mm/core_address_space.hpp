// Builds the core's own page tables, replacing the loader's:
//   - the direct map: every region of the memory map at kDirectMapBase + physical, RW + NX,
//     with large pages (MMIO regions of the map uncached), plus extra device ranges the caller
//     names (framebuffer, local APIC, ...) with the cache mode it asks for;
//   - the core image at kCoreVirtualBase with W^X from the linker's section bounds:
//     text RX, rodata R + NX, data/bss RW + NX;
//   - identity mappings only for the ranges the caller explicitly asks for (e.g. the AP
//     trampoline page, RX).
// Returns the PML4's physical address; loading CR3 (and IA32_PAT, see kX86PatMsrValue) is the
// caller's business.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/page_attributes.hpp"
#include "mm/physical_window.hpp"
#include <span>
#include <stdint.h>

namespace halcyon::mm {

// Virtual bounds of the core image's sections (from __text_start etc., page aligned, inside
// kCoreVirtualBase's 2 GiB) and where the image lives physically. data_end covers bss.
struct CoreSections {
    uint64_t text_start, text_end;
    uint64_t rodata_start, rodata_end;
    uint64_t data_start, data_end;
    uint64_t physical_base; // physical address of kCoreVirtualBase (Handoff::core_physical_base)
};

// A physical range to add to the direct map (page granular; unaligned ends are widened).
struct DeviceRange {
    uint64_t physical_base;
    uint64_t size;
    CacheMode cache = CacheMode::uncached;
};

// A physical range to map at virtual == physical.
struct IdentityRange {
    uint64_t physical_base;
    uint64_t size;
    Attributes attributes;
};

struct CoreAddressSpaceRequest {
    std::span<const handoff::MemoryRegion> memory_map;
    CoreSections sections;
    std::span<const DeviceRange> device_ranges;
    std::span<const IdentityRange> identity_ranges;
    LargePages large_pages; // 1 GiB pages only if CPUID says so
};

// Allocates the tables from `frames`, writes them through `window`; returns the PML4 physical.
[[nodiscard]] ErrorOr<uint64_t> build_core_address_space(const CoreAddressSpaceRequest& request,
                                                         FrameAllocator& frames,
                                                         PhysicalWindow window);

} // namespace halcyon::mm
