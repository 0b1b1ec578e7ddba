#include "vmm/mgmt_host/pci_filter.hpp"

namespace halcyon::mgmt_host {
namespace {

constexpr uint32_t kEnable = 1u << 31;
// Bits 30:24 are reserved and read back as zero on a PC chipset; bits 1:0 likewise.
constexpr uint32_t kAddressMask = kEnable | 0x00FF'FFFC;

uint32_t all_ones(uint8_t size) {
    return size == 4 ? 0xFFFF'FFFFu : (1u << (size * 8)) - 1;
}

} // namespace

bool PciPortFilter::target(uint16_t port, uint8_t& offset) const {
    if (!present_ || (address_ & kEnable) == 0)
        return false;
    const PciFunctionAddress named{static_cast<uint8_t>(address_ >> 16),
                                   static_cast<uint8_t>((address_ >> 11) & 0x1F),
                                   static_cast<uint8_t>((address_ >> 8) & 0x7)};
    if (!(named == assigned_))
        return false;
    offset = static_cast<uint8_t>((address_ & 0xFC) + (port - kDataPort));
    return true;
}

uint32_t PciPortFilter::read(uint16_t port, uint8_t size) {
    if (port == kAddressPort)
        return address_;
    uint8_t offset;
    if (!target(port, offset))
        return all_ones(size);
    return real_.read(assigned_, offset, size);
}

void PciPortFilter::write(uint16_t port, uint8_t size, uint32_t value) {
    if (port == kAddressPort) {
        address_ = value & kAddressMask;
        return;
    }
    uint8_t offset;
    if (!target(port, offset))
        return;
    for (uint8_t i = 0; i < size; ++i) {
        if (is_protected_register(static_cast<uint8_t>(offset + i)))
            return; // the whole access is dropped: no half-written BAR
    }
    real_.write(assigned_, offset, size, value);
}

} // namespace halcyon::mgmt_host
