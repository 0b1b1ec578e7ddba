// The I/O APIC (Intel 82093AA datasheet): 24 input pins, each with a redirection entry that
// turns pin activity into an interrupt message for the local APICs.
//
// Registers are reached through IOREGSEL (offset 0x00) and IOWIN (0x10); the EOI register at
// 0x40 of later (version 0x20) IOAPICs is implemented too, although the version register
// reports 0x11 as the platform specifies, so guests clear remote IRR through the LAPIC's EOI
// broadcast (end_of_interrupt) or by the edge/level toggle older IOAPICs needed — both work.
//
// Delivery is immediate (the delivery status bit always reads idle). Pins are inputs with an
// electrical level: set_irq() takes that level, the entry's polarity decides whether it is
// asserted. Devices instead hold line(pin), an InterruptLine that knows how the platform wires
// that pin (active high, or active low for the SCI) and drives the electrical level for them.
#pragma once

#include "vmm/worker/devices/interrupt_line.hpp"
#include "vmm/worker/devices/platform.hpp"

#include <stdint.h>

namespace halcyon::worker {

class IoApic {
public:
    static constexpr unsigned kPins = platform::kIoApicPins;
    static constexpr uint32_t kVersion = 0x11 | ((kPins - 1) << 16);

    // Register offsets in the MMIO page.
    static constexpr uint64_t kRegisterSelect = 0x00;
    static constexpr uint64_t kWindow = 0x10;
    static constexpr uint64_t kEoi = 0x40;

    // `id`: the IOAPIC ID (4 bits); `active_low_wires`: bit n set if the device on pin n
    // asserts it by driving it low (its idle level is then high).
    IoApic(uint8_t id, MsiTarget& target, uint32_t active_low_wires = platform::kActiveLowGsis);
    IoApic(const IoApic&) = delete;
    IoApic& operator=(const IoApic&) = delete;

    [[nodiscard]] uint64_t mmio_read(uint64_t offset, unsigned size);
    void mmio_write(uint64_t offset, unsigned size, uint64_t value);

    // Sets the electrical level of an input pin (pins >= kPins are ignored).
    void set_irq(unsigned pin, bool level);
    // An EOI for `vector` (the LAPIC's broadcast for level-triggered vectors): clears remote IRR
    // of the level-triggered entries with that vector and redelivers those still asserted.
    void end_of_interrupt(uint8_t vector);

    // The wire into `pin` (pin < kPins) for a device to drive.
    [[nodiscard]] InterruptLine& line(unsigned pin) { return lines_[pin]; }

    // The 64-bit redirection entry of `pin` (for tests and diagnostics).
    [[nodiscard]] uint64_t redirection_entry(unsigned pin) const { return entries_[pin]; }

private:
    class PinLine final : public InterruptLine {
    public:
        void set_level(bool asserted) override;
        IoApic* io_apic = nullptr;
        unsigned pin = 0;
        bool active_low = false;
    };

    [[nodiscard]] uint32_t read_register(uint8_t index) const;
    void write_register(uint8_t index, uint32_t value);
    void write_entry_low(unsigned pin, uint32_t value);
    [[nodiscard]] bool asserted(unsigned pin) const;
    void deliver(unsigned pin);
    void try_deliver_level(unsigned pin);

    MsiTarget* target_;
    uint8_t id_;
    uint8_t register_select_ = 0;
    uint32_t pin_levels_;   // electrical input level per pin
    uint32_t was_asserted_; // asserted state per pin at the last change, for edge detection
    uint64_t entries_[kPins];
    PinLine lines_[kPins];
};

} // namespace halcyon::worker
