// How the platform's device models signal interrupts.
//
// A device holds an InterruptLine& for the wire from its interrupt output to a controller
// input (the PIT's OUT0 to IOAPIC pin 2, the UART's INTR to pin 4, the ACPI SCI to pin 9) and
// only says whether it requests service; what that means electrically (active high or low) is
// the wire's business. The IOAPIC turns pin activity into InterruptMessages for an MsiTarget,
// which the VM implements over its virtual local APICs.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

class InterruptLine {
public:
    // Level-triggered devices keep the line asserted while they want service; edge-triggered
    // ones deassert and reassert it (a pulse) for each event.
    virtual void set_level(bool asserted) = 0;

protected:
    ~InterruptLine() = default;
};

// Delivery modes of an IOAPIC redirection entry / MSI (Intel SDM vol. 3, 11.11.2).
namespace delivery_mode {
inline constexpr uint8_t kFixed = 0;
inline constexpr uint8_t kLowestPriority = 1;
inline constexpr uint8_t kSmi = 2;
inline constexpr uint8_t kNmi = 4;
inline constexpr uint8_t kInit = 5;
inline constexpr uint8_t kExtInt = 7;
} // namespace delivery_mode

// One interrupt as the IOAPIC sends it to the local APICs.
struct InterruptMessage {
    uint32_t destination;  // APIC ID (physical) or logical destination bitmap
    bool logical;          // destination mode
    uint8_t delivery_mode; // delivery_mode::k*
    uint8_t vector;
    bool level_triggered; // the LAPIC sets TMR and broadcasts its EOI back to the IOAPIC
};

class MsiTarget {
public:
    virtual void deliver(const InterruptMessage& message) = 0;

protected:
    ~MsiTarget() = default;
};

} // namespace halcyon::worker
