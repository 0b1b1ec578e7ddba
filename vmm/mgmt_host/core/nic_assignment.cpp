#include "vmm/mgmt_host/core/nic_assignment.hpp"

#include "drivers/net/nic.hpp"
#include "drivers/pci/config_space.hpp"
#include "drivers/pci/pci.hpp"
#include "vmm/core/log.hpp"

namespace halcyon::mgmt_host {
namespace {

constexpr uint16_t kAddressPort = 0xCF8;
constexpr uint16_t kDataPort = 0xCFC;
constexpr uint8_t kCommand = 0x04;
constexpr uint16_t kCommandMemory = 1u << 1, kCommandBusMaster = 1u << 2;
constexpr size_t kMaxFunctions = 64;
constexpr uint64_t kPage = 4096;

uint32_t selector(PciFunctionAddress f, uint8_t offset) {
    return 0x8000'0000u | (uint32_t(f.bus) << 16) | (uint32_t(f.device & 31) << 11) |
           (uint32_t(f.function & 7) << 8) | (offset & 0xFCu);
}

} // namespace

uint32_t PortConfigAccess::read(PciFunctionAddress function, uint8_t offset, uint8_t size) {
    const uint16_t port = static_cast<uint16_t>(kDataPort + (offset & 3));
    asm volatile("outl %0, %1" : : "a"(selector(function, offset)), "Nd"(kAddressPort));
    if (size == 1) {
        uint8_t value;
        asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
        return value;
    }
    if (size == 2) {
        uint16_t value;
        asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
        return value;
    }
    uint32_t value;
    asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

void PortConfigAccess::write(PciFunctionAddress function, uint8_t offset, uint8_t size,
                             uint32_t value) {
    const uint16_t port = static_cast<uint16_t>(kDataPort + (offset & 3));
    asm volatile("outl %0, %1" : : "a"(selector(function, offset)), "Nd"(kAddressPort));
    if (size == 1)
        asm volatile("outb %0, %1" : : "a"(static_cast<uint8_t>(value)), "Nd"(port));
    else if (size == 2)
        asm volatile("outw %0, %1" : : "a"(static_cast<uint16_t>(value)), "Nd"(port));
    else
        asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

ErrorOr<AssignedNic> choose_nic(const config::ManagementNetwork& management) {
    pci::PortConfigSpace config;
    pci::Function functions[kMaxFunctions];
    const size_t total = pci::enumerate(config, functions);
    const size_t count = total < kMaxFunctions ? total : kMaxFunctions;
    const size_t chosen = TRY(drivers::choose_management_nic(
        std::span<const pci::Function>(functions, count), management.nic));
    const pci::Function& function = functions[chosen];
    AssignedNic nic;
    nic.address = PciFunctionAddress{function.address.bus, function.address.device,
                                     function.address.function};
    nic.model = drivers::nic_kind_name(drivers::nic_kind(function));
    for (uint8_t index = 0; index < 6; ++index) {
        const pci::Bar bar = TRY(pci::read_bar(config, function.address, index));
        if (bar.is_64bit)
            ++index; // its upper half is the next slot
        if (bar.io || bar.size == 0 || bar.base == 0)
            continue;
        const uint64_t base = bar.base & ~(kPage - 1);
        const uint64_t end = (bar.base + bar.size + kPage - 1) & ~(kPage - 1);
        nic.bars[nic.bar_count++] = DeviceRange{base, end - base};
    }
    return nic;
}

void quiesce_nic(RawConfigAccess& config, PciFunctionAddress nic) {
    const uint32_t command = config.read(nic, kCommand, 2);
    config.write(nic, kCommand, 2, command & ~uint32_t{kCommandMemory | kCommandBusMaster});
}

} // namespace halcyon::mgmt_host
