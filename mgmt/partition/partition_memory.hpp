// The management partition's memory for drivers and buffers: everything from
// MgmtBootInfo::free_base to the end of its RAM region, handed out by a bump allocator that
// never frees (the network's buffers are fixed at start). The region is identity-mapped
// (GPA == host physical), so a DMA address is usable as a pointer as it is, and a device BAR
// (mapped identity and uncached by the core's nested tables) is reached at its own address.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "mgmt/net/host_only_vm_host.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::partition {

class PartitionMemory final : public drivers::DmaAllocator,
                              public drivers::MmioMapper,
                              public net::FreeMemorySource {
public:
    // [base, end): free memory, 4 KiB aligned.
    PartitionMemory(uint64_t base, uint64_t end) : next_(base), end_(end) {}

    // Zeroed, 4 KiB-aligned memory; device address == pointer.
    [[nodiscard]] ErrorOr<drivers::DmaRegion> allocate_dma(size_t size) override;
    [[nodiscard]] ErrorOr<volatile uint8_t*> map_mmio(uint64_t physical, uint64_t size) override;
    // What is left in the partition (its own memory, not the host's).
    [[nodiscard]] uint64_t free_bytes() override { return end_ - next_; }

    [[nodiscard]] uint64_t used_bytes(uint64_t since) const { return next_ - since; }

private:
    uint64_t next_;
    uint64_t end_;
};

} // namespace halcyon::mgmt::partition
