// What a driver needs from whoever hosts it (the core today, the management partition later):
// DMA-able memory, mappings of device registers and busy waiting. Small interfaces so the drivers
// move between environments unchanged and host tests can hand them plain buffers.
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

// Busy waiting, from whoever hosts the driver (the core: TSC; tests: a fake clock that also
// advances the fake device). Drivers poll registers in steps of it with a bounded count, so an
// unresponsive device gives a timeout error instead of a hang.
class Delay {
public:
    virtual void delay_us(uint32_t microseconds) = 0;

protected:
    ~Delay() = default;
};

} // namespace halcyon::drivers
