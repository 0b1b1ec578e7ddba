#include "mgmt/net/core_platform.hpp"

#include "mm/page_table_policies.hpp"

#include <string.h>

namespace halcyon::mgmt::net {
namespace {

constexpr uint64_t kDirectMapLimit = 1ULL << 46; // as mm/core_address_space.cpp builds it

uint64_t read_cr3() {
    uint64_t value;
    asm volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}

} // namespace

ErrorOr<drivers::DmaRegion> CoreDeviceMemory::allocate_dma(size_t size) {
    const size_t pages = (size + mm::kPageSize - 1) / mm::kPageSize;
    if (pages == 0)
        return Error(ErrorCode::invalid_argument, "empty DMA allocation");
    const uint64_t physical = TRY(frames_.allocate(pages));
    uint8_t* virt = mm::PhysicalWindow::direct_map().to_virtual<uint8_t>(physical);
    memset(virt, 0, pages * mm::kPageSize);
    return drivers::DmaRegion{virt, physical, pages * mm::kPageSize};
}

ErrorOr<volatile uint8_t*> CoreDeviceMemory::map_mmio(uint64_t physical, uint64_t size) {
    if (size == 0 || physical >= kDirectMapLimit || size > kDirectMapLimit - physical)
        return Error(ErrorCode::out_of_range, "MMIO range outside the direct map");
    const uint64_t first = physical & ~(mm::kPageSize - 1);
    const uint64_t end = (physical + size + mm::kPageSize - 1) & ~(mm::kPageSize - 1);
    const mm::PhysicalWindow window = mm::PhysicalWindow::direct_map();
    auto table = mm::X86PageTable::adopt(mm::WindowTableMemory(window),
                                         mm::FrameTableAllocator(frames_, window),
                                         read_cr3() & ~0xFFFULL, mm::LargePages{false, false});
    // Pages already mapped (a BAR inside an MMIO region of the memory map, or a structure
    // sharing a page with one mapped before) keep their mapping if it is uncached already.
    for (uint64_t page = first; page < end; page += mm::kPageSize) {
        const uint64_t virt = handoff::kDirectMapBase + page;
        if (auto existing = table.lookup(virt)) {
            if (existing->attributes.cache != mm::CacheMode::uncached)
                return Error(ErrorCode::busy, "MMIO page is already mapped cacheable");
            continue;
        }
        TRY(table.map(virt, page, mm::kPageSize,
                      mm::Attributes{true, false, false, mm::CacheMode::uncached}));
    }
    return reinterpret_cast<volatile uint8_t*>(handoff::kDirectMapBase + physical);
}

} // namespace halcyon::mgmt::net
