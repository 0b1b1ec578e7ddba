#include "drivers/pci/config_space.hpp"

namespace halcyon::pci {
namespace {

constexpr uint16_t kAddressPort = 0xCF8;
constexpr uint16_t kDataPort = 0xCFC;

uint32_t address_word(Address address, uint16_t offset) {
    return 0x8000'0000u | (uint32_t(address.bus) << 16) | (uint32_t(address.device & 31) << 11) |
           (uint32_t(address.function & 7) << 8) | (offset & 0xFCu);
}

} // namespace

// The address/data pair is one shared register: callers serialise (the management network
// polls from one CPU only).
uint32_t PortConfigSpace::read32(Address address, uint16_t offset) {
    const uint32_t selector = address_word(address, offset);
    uint32_t value;
    asm volatile("outl %0, %1" : : "a"(selector), "Nd"(kAddressPort) : "memory");
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(kDataPort) : "memory");
    return value;
}

void PortConfigSpace::write32(Address address, uint16_t offset, uint32_t value) {
    const uint32_t selector = address_word(address, offset);
    asm volatile("outl %0, %1" : : "a"(selector), "Nd"(kAddressPort) : "memory");
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(kDataPort) : "memory");
}

} // namespace halcyon::pci
