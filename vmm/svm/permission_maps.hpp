// The SVM I/O and MSR permission maps (AMD APM vol. 2, 15.10.1 and 15.11). Both are bitmaps in
// physical memory the CPU reads on every IN/OUT and RDMSR/WRMSR of the guest: a set bit means
// "intercept". Pure code over plain byte arrays, so the bit arithmetic is host-testable.
//
// Policy: both maps start as "intercept everything" and only what the core has decided to let
// the guest touch directly is cleared (an allow list), so an access nobody thought about always
// reaches the hypervisor instead of the hardware.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::svm {

inline constexpr size_t kIopmBytes = 12 * 1024; // 65536 ports + 3 bytes, rounded to 3 pages
inline constexpr size_t kMsrpmBytes = 8 * 1024; // 3 ranges of 8192 MSRs x 2 bits, 2 pages

// Sets every bit: every port and MSR is intercepted.
void intercept_all(std::span<uint8_t> map);

// Lets the guest access `port` directly (no exit).
void allow_port(std::span<uint8_t> iopm, uint16_t port);

// Lets the guest read and/or write `msr` directly. Returns false for MSRs outside the three
// ranges the map covers (0..0x1FFF, 0xC0000000..0xC0001FFF, 0xC0010000..0xC0011FFF): those are
// always intercepted by the hardware.
[[nodiscard]] bool allow_msr(std::span<uint8_t> msrpm, uint32_t msr, bool read, bool write);

// Whether an access is intercepted according to the map (for tests and diagnostics).
[[nodiscard]] bool msr_intercepted(std::span<const uint8_t> msrpm, uint32_t msr, bool write);
[[nodiscard]] bool port_intercepted(std::span<const uint8_t> iopm, uint16_t port);

} // namespace halcyon::svm
