// The management partition's PCI configuration ports (docs/management-partition.md,
// "Devices"): configuration mechanism #1 at 0xCF8 (address, dword accesses only - 0xCF9 is the
// reset register) and 0xCFC-0xCFF (data). Only the assigned NIC's function is there: its
// accesses reach the real configuration space, except writes to the BARs and the expansion
// ROM BAR (dropped: the partition must not move device memory the core mapped for it). Every
// other function reads as absent (all ones) and ignores writes. Pure code over RawConfigAccess.
#pragma once

#include <stdint.h>

namespace halcyon::mgmt_host {

struct PciFunctionAddress {
    uint8_t bus = 0, device = 0, function = 0;
    friend bool operator==(const PciFunctionAddress&, const PciFunctionAddress&) = default;
};

// The real configuration space, accessed at the width the partition used (so a 16-bit write
// of the command register touches nothing else, e.g. the RW1C status bits next to it).
class RawConfigAccess {
public:
    [[nodiscard]] virtual uint32_t read(PciFunctionAddress function, uint8_t offset,
                                        uint8_t size) = 0;
    virtual void write(PciFunctionAddress function, uint8_t offset, uint8_t size,
                       uint32_t value) = 0;

protected:
    ~RawConfigAccess() = default;
};

class PciPortFilter {
public:
    static constexpr uint16_t kAddressPort = 0xCF8;
    static constexpr uint16_t kDataPort = 0xCFC;

    // `present` false: no NIC was assigned, every function is absent.
    PciPortFilter(RawConfigAccess& real, PciFunctionAddress assigned, bool present = true)
        : real_(real), assigned_(assigned), present_(present) {}

    [[nodiscard]] bool claims(uint16_t port, uint8_t size) const {
        return (port == kAddressPort && size == 4) ||
               (port >= kDataPort && port < kDataPort + 4 && (port & (size - 1)) == 0);
    }
    [[nodiscard]] uint32_t read(uint16_t port, uint8_t size);
    void write(uint16_t port, uint8_t size, uint32_t value);
    // After a reset of the partition: the address latch back to its power-on value.
    void reset() { address_ = 0; }

    // Registers the partition may never write: BAR0-5 (0x10-0x27) and the ROM BAR (0x30-0x33).
    [[nodiscard]] static bool is_protected_register(uint8_t offset) {
        return (offset >= 0x10 && offset < 0x28) || (offset >= 0x30 && offset < 0x34);
    }

private:
    // The latched address names the assigned function (and is enabled): its register offset.
    [[nodiscard]] bool target(uint16_t port, uint8_t& offset) const;

    RawConfigAccess& real_;
    PciFunctionAddress assigned_;
    bool present_;
    uint32_t address_ = 0;
};

} // namespace halcyon::mgmt_host
