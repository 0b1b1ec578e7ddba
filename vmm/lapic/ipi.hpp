// Interrupt messages between local APICs (and from the IOAPIC): the decoded form of an ICR write,
// and the bus through which a virtual LAPIC reaches the rest of the partition.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::lapic {

// ICR / LVT / IOAPIC redirection-entry delivery modes. 3 is reserved, and 7 (ExtINT) is not a
// valid ICR mode: a LAPIC never sends either (see VirtualLapic::mmio_write).
enum class DeliveryMode : uint8_t {
    fixed = 0,
    lowest_priority = 1,
    smi = 2,
    nmi = 4,
    init = 5,
    startup = 6,
    ext_int = 7,
};

// One interrupt message. A LAPIC builds it from an ICR write; the IOAPIC model can build one from
// a redirection entry (shorthand none) and use the same routing (VirtualLapic::route).
struct Ipi {
    // Physical: an APIC ID, or the broadcast ID (0xFF for xAPIC receivers, 0xFFFFFFFF for x2APIC
    // ones). Logical: a message destination address matched against each receiver's LDR. It is
    // interpreted in the receiver's mode (xAPIC: 8 bits, x2APIC: 32 bits).
    uint32_t destination = 0;
    bool logical = false;
    enum Shorthand : uint8_t { none, self, all_including_self, all_excluding_self };
    Shorthand shorthand = none;
    DeliveryMode mode = DeliveryMode::fixed;
    uint8_t vector = 0;       // fixed/lowest priority: the vector; startup: the start page
    bool level_assert = true; // false only for INIT level de-assert (never sent: a no-op)
    bool level_triggered = false;
    uint32_t source_apic_id = 0; // the sender, for the "self" shorthands
};

// What a virtual LAPIC calls outside itself. The partition implements it; calls happen from inside
// VirtualLapic::mmio_write / write_msr, on the sender's vCPU.
struct LapicBus {
    // An IPI to route (VirtualLapic::route) and deliver (VirtualLapic::deliver). Not called for
    // fixed self-IPIs (shorthand self, x2APIC SELF_IPI): those stay inside the sender.
    virtual void send_ipi(const Ipi& ipi) = 0;
    // EOI of a level-triggered vector (TMR bit set): the IOAPIC clears the remote IRR of every
    // redirection entry with that vector.
    virtual void end_of_interrupt(uint8_t vector) = 0;

protected:
    ~LapicBus() = default;
};

// Decodes an ICR value. xAPIC: (high << 32) | low with the destination in bits 63:56; x2APIC: the
// 64-bit MSR with the destination in bits 63:32.
[[nodiscard]] constexpr Ipi decode_icr(uint64_t icr, bool x2apic, uint32_t source_apic_id) {
    Ipi ipi;
    ipi.destination =
        x2apic ? static_cast<uint32_t>(icr >> 32) : static_cast<uint32_t>((icr >> 56) & 0xFF);
    ipi.logical = (icr >> 11) & 1;
    ipi.shorthand = static_cast<Ipi::Shorthand>((icr >> 18) & 3);
    ipi.mode = static_cast<DeliveryMode>((icr >> 8) & 7);
    ipi.vector = static_cast<uint8_t>(icr & 0xFF);
    ipi.level_assert = (icr >> 14) & 1;
    ipi.level_triggered = (icr >> 15) & 1;
    ipi.source_apic_id = source_apic_id;
    return ipi;
}

// The ICR value that sends `ipi` (the inverse of decode_icr; source_apic_id is not encoded).
[[nodiscard]] constexpr uint64_t encode_icr(const Ipi& ipi, bool x2apic) {
    uint64_t value = ipi.vector | (static_cast<uint64_t>(ipi.mode) << 8) |
                     (static_cast<uint64_t>(ipi.logical) << 11) |
                     (static_cast<uint64_t>(ipi.level_assert) << 14) |
                     (static_cast<uint64_t>(ipi.level_triggered) << 15) |
                     (static_cast<uint64_t>(ipi.shorthand) << 18);
    if (x2apic) {
        return value | (static_cast<uint64_t>(ipi.destination) << 32);
    }
    return value | (static_cast<uint64_t>(ipi.destination & 0xFF) << 56);
}

} // namespace halcyon::vmm::lapic
