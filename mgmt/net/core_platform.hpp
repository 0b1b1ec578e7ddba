// What the management network needs from the machine, implemented for the core (the one
// file that changes when this code moves into the management partition): DMA memory from the
// frame allocator through the direct map, device registers mapped uncached into the direct
// map, the CMOS real-time clock, and entropy from RDSEED/RDRAND.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/net/nic.hpp"
#include "mm/frame_allocator.hpp"

#include <span>
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

// Busy waiting on the TSC (calibrated frequency), for the drivers' bounded register polls.
class TscDelay final : public drivers::Delay {
public:
    explicit TscDelay(uint64_t tsc_hz) : ticks_per_us_(tsc_hz / 1'000'000 + 1) {}
    void delay_us(uint32_t microseconds) override;

private:
    uint64_t ticks_per_us_;
};

// Seconds since 1970-01-01 UTC from the CMOS RTC (assumed to run in UTC, as QEMU's default
// and servers' usual setting); 0 when the clock reads as invalid.
[[nodiscard]] int64_t read_rtc_unix_seconds();

// Fills `out` with entropy: RDSEED, else RDRAND, mixed with TSC samples. Returns false when
// neither instruction exists (then only TSC jitter went in: weak, and the caller says so).
[[nodiscard]] bool gather_entropy(std::span<uint8_t> out);

// One 32-bit random number (RDRAND, else a TSC-seeded xorshift) for lwIP.
[[nodiscard]] uint32_t random32();

[[nodiscard]] inline uint64_t read_tsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

} // namespace halcyon::mgmt::net
