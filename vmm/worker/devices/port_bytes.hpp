// x86 lets a guest use IN/OUT of 1, 2 or 4 bytes on any port; a wider access touches the
// consecutive ports, lowest port in the lowest byte. The legacy devices here are byte-register
// devices, so they implement read_byte/write_byte and split wider accesses with these helpers.
// A byte whose port the device does not claim reads as 0xFF (nothing drives the bus) and is
// dropped on writes.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

template <typename Device>
uint32_t read_port_bytes(Device& device, uint16_t port, uint8_t size, uint64_t now) {
    uint32_t value = 0;
    for (unsigned i = 0; i < size && i < 4; ++i) {
        const auto byte_port = static_cast<uint16_t>(port + i);
        const uint32_t byte = device.claims(byte_port) ? device.read_byte(byte_port, now) : 0xFF;
        value |= byte << (8 * i);
    }
    return value;
}

template <typename Device>
void write_port_bytes(Device& device, uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    for (unsigned i = 0; i < size && i < 4; ++i) {
        const auto byte_port = static_cast<uint16_t>(port + i);
        if (device.claims(byte_port))
            device.write_byte(byte_port, static_cast<uint8_t>(value >> (8 * i)), now);
    }
}

} // namespace halcyon::worker
