#include "drivers/pci/ecam_config_space.hpp"

namespace halcyon::pci {

volatile uint32_t* EcamConfigSpace::locate(Address address, uint16_t offset) const {
    if (address.bus < start_bus_ || address.bus > end_bus_ || address.device > 31 ||
        address.function > 7 || offset >= 4096)
        return nullptr;
    const uint64_t byte = (uint64_t(address.bus - start_bus_) << 20) |
                          (uint64_t(address.device) << 15) | (uint64_t(address.function) << 12) |
                          (offset & 0xFFCu);
    return reinterpret_cast<volatile uint32_t*>(window_ + byte);
}

uint32_t EcamConfigSpace::read32(Address address, uint16_t offset) {
    volatile uint32_t* where = locate(address, offset);
    return where == nullptr ? 0xFFFF'FFFFu : *where;
}

void EcamConfigSpace::write32(Address address, uint16_t offset, uint32_t value) {
    if (volatile uint32_t* where = locate(address, offset))
        *where = value;
}

} // namespace halcyon::pci
