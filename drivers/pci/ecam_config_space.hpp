// PCI Express enhanced configuration access (ECAM): each function's 4 KiB configuration space
// memory-mapped at base + (bus - start_bus) << 20 | device << 15 | function << 12. The window
// comes from an ACPI MCFG allocation (segment group, start/end bus); the caller maps it
// uncached (MmioMapper) and hands over the mapping. Not wired yet: the core's ACPI parser does
// not read MCFG, so the management network uses PortConfigSpace (legacy ports) for now.
#pragma once

#include "drivers/pci/config_space.hpp"

#include <stdint.h>

namespace halcyon::pci {

class EcamConfigSpace final : public ConfigSpace {
public:
    // Bytes of the window for buses start_bus..end_bus (inclusive).
    [[nodiscard]] static constexpr uint64_t window_size(uint8_t start_bus, uint8_t end_bus) {
        return end_bus < start_bus ? 0 : (uint64_t(end_bus - start_bus) + 1) << 20;
    }

    EcamConfigSpace(volatile uint8_t* window, uint8_t start_bus, uint8_t end_bus)
        : window_(window), start_bus_(start_bus), end_bus_(end_bus) {}

    // Outside the window (bus out of range, offset past 4 KiB) reads as all-ones, as an absent
    // function does, and writes are dropped.
    [[nodiscard]] uint32_t read32(Address address, uint16_t offset) override;
    void write32(Address address, uint16_t offset, uint32_t value) override;

private:
    [[nodiscard]] volatile uint32_t* locate(Address address, uint16_t offset) const;

    volatile uint8_t* window_;
    uint8_t start_bus_;
    uint8_t end_bus_;
};

} // namespace halcyon::pci
