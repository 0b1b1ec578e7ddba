// What a driver needs from whoever hosts it (the core today, the management partition later):
// DMA-able memory and mappings of device registers. Small interfaces so the drivers move
// between environments unchanged and host tests can hand them plain buffers.
#pragma once

#include "lib/base/error_or.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers {

// Physically contiguous, zeroed memory the device reaches at `device_address` (the physical
// address while there is no IOMMU) and the driver at `virt`.
struct DmaRegion {
    uint8_t* virt = nullptr;
    uint64_t device_address = 0;
    size_t size = 0;
};

class DmaAllocator {
public:
    // `size` rounded up to whole pages; page aligned. Never freed while the device may use it.
    [[nodiscard]] virtual ErrorOr<DmaRegion> allocate_dma(size_t size) = 0;

protected:
    ~DmaAllocator() = default;
};

class MmioMapper {
public:
    // Maps device registers uncached; the mapping stays for the driver's lifetime.
    [[nodiscard]] virtual ErrorOr<volatile uint8_t*> map_mmio(uint64_t physical, uint64_t size) = 0;

protected:
    ~MmioMapper() = default;
};

} // namespace halcyon::drivers
