// The core's half of the management network's platform: DMA memory from the frame allocator
// through the direct map and device registers mapped uncached into the core's page tables. The
// management partition has its own (mgmt/partition/partition_platform.hpp); the portable pieces
// (TSC delay, RTC, entropy) are in platform.hpp, included here for the core's other users.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/net/nic.hpp"
#include "mgmt/net/platform.hpp"
#include "mm/frame_allocator.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::net {

// DMA = physical addresses (no IOMMU yet). MMIO mappings are added to the core's live page
// tables (the PML4 in CR3, shared by every CPU) at kDirectMapBase + physical, uncached: BARs
// usually lie outside the memory map (above RAM or in the 64-bit aperture), so the direct map
// built at boot does not cover them. New entries replace only non-present ones, which no TLB
// caches, so no shootdown is needed.
class CoreDeviceMemory final : public drivers::DmaAllocator, public drivers::MmioMapper {
public:
    explicit CoreDeviceMemory(mm::FrameAllocator& frames) : frames_(frames) {}
    [[nodiscard]] ErrorOr<drivers::DmaRegion> allocate_dma(size_t size) override;
    [[nodiscard]] ErrorOr<volatile uint8_t*> map_mmio(uint64_t physical, uint64_t size) override;

private:
    mm::FrameAllocator& frames_;
};

} // namespace halcyon::mgmt::net
