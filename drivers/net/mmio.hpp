// Register accesses through volatile pointers: exactly one access of the stated width each, in
// program order (x86 keeps uncached accesses ordered; the compiler is kept from merging or
// reordering them by `volatile`).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::mmio {

inline uint8_t read8(volatile uint8_t* base, size_t offset) {
    return *reinterpret_cast<volatile uint8_t*>(base + offset);
}
inline uint16_t read16(volatile uint8_t* base, size_t offset) {
    return *reinterpret_cast<volatile uint16_t*>(base + offset);
}
inline uint32_t read32(volatile uint8_t* base, size_t offset) {
    return *reinterpret_cast<volatile uint32_t*>(base + offset);
}
inline void write8(volatile uint8_t* base, size_t offset, uint8_t value) {
    *reinterpret_cast<volatile uint8_t*>(base + offset) = value;
}
inline void write16(volatile uint8_t* base, size_t offset, uint16_t value) {
    *reinterpret_cast<volatile uint16_t*>(base + offset) = value;
}
inline void write32(volatile uint8_t* base, size_t offset, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(base + offset) = value;
}
// Two dword writes, low half first: what the virtio spec allows for 64-bit fields (4.1.3.1).
inline void write64_split(volatile uint8_t* base, size_t offset, uint64_t value) {
    write32(base, offset, static_cast<uint32_t>(value));
    write32(base, offset + 4, static_cast<uint32_t>(value >> 32));
}

} // namespace halcyon::drivers::mmio
