// Access to PCI configuration space, behind an interface so the enumeration and the drivers
// run unchanged over the legacy 0xCF8/0xCFC ports (PortConfigSpace), ECAM later, or a fake
// device in host tests.
#pragma once

#include <stdint.h>

namespace halcyon::pci {

struct Address {
    uint8_t bus = 0;
    uint8_t device = 0;   // 0..31
    uint8_t function = 0; // 0..7

    friend bool operator==(const Address&, const Address&) = default;
};

class ConfigSpace {
public:
    // `offset` is dword aligned and below 256 (legacy mechanism) or 4096 (ECAM).
    [[nodiscard]] virtual uint32_t read32(Address address, uint16_t offset) = 0;
    virtual void write32(Address address, uint16_t offset, uint32_t value) = 0;

    // Narrow accesses as read-modify-write of the containing dword: every mechanism supports
    // dword accesses, and config registers written this way have no write side effects on the
    // neighbouring bytes we write back (they are the values just read).
    [[nodiscard]] uint16_t read16(Address address, uint16_t offset) {
        return static_cast<uint16_t>(read32(address, offset & ~3u) >> ((offset & 2u) * 8));
    }
    [[nodiscard]] uint8_t read8(Address address, uint16_t offset) {
        return static_cast<uint8_t>(read32(address, offset & ~3u) >> ((offset & 3u) * 8));
    }
    void write16(Address address, uint16_t offset, uint16_t value) {
        const uint16_t aligned = offset & ~3u;
        const unsigned shift = (offset & 2u) * 8;
        uint32_t dword = read32(address, aligned);
        dword = (dword & ~(0xFFFFu << shift)) | (uint32_t(value) << shift);
        write32(address, aligned, dword);
    }

protected:
    ~ConfigSpace() = default;
};

// Configuration mechanism #1: address to port 0xCF8, data through 0xCFC. 256 bytes per function.
class PortConfigSpace final : public ConfigSpace {
public:
    [[nodiscard]] uint32_t read32(Address address, uint16_t offset) override;
    void write32(Address address, uint16_t offset, uint32_t value) override;
};

} // namespace halcyon::pci
