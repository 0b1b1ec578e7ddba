// The PC's 8254 programmable interval timer at ports 0x40-0x43, plus the two PIT bits of
// system control port B (0x61): channel 2's gate (bit 0, writable) and its OUT (bit 5).
//
// The PIT clock (1.193182 MHz) is derived from the TSC. Channel 0's OUT is the IRQ0 wire:
// its level follows OUT, and at every rising edge (each period in modes 2 and 3, once at
// terminal count in modes 0 and 4) the wire is pulsed so an edge-triggered input sees one
// interrupt per edge even when the run loop comes late. Edges missed by more than one period
// are coalesced into one interrupt (lost ticks, as with a busy real CPU). Channel 1 (DRAM
// refresh on old PCs) counts but drives nothing; port 0x61 bit 4 toggles every 15 us as the
// refresh-request bit does.
#pragma once

#include "vmm/worker/devices/interrupt_line.hpp"
#include "vmm/worker/devices/pit_channel.hpp"
#include "vmm/worker/devices/tick_converter.hpp"

#include <stdint.h>

namespace halcyon::worker {

class Pit8254 {
public:
    static constexpr uint16_t kChannel0 = 0x40;
    static constexpr uint16_t kControl = 0x43;
    static constexpr uint16_t kPortB = 0x61;

    // `now`: the TSC at power-on (the PIT clock starts there).
    Pit8254(uint64_t tsc_hz, uint64_t now, InterruptLine& irq0);

    [[nodiscard]] bool claims(uint16_t port) const {
        return (port >= kChannel0 && port <= kControl) || port == kPortB;
    }
    uint32_t read(uint16_t port, uint8_t size, uint64_t now);
    void write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] uint8_t read_byte(uint16_t port, uint64_t now);
    void write_byte(uint16_t port, uint8_t value, uint64_t now);

    // TSC at which IRQ0 next rises (UINT64_MAX: none scheduled).
    [[nodiscard]] uint64_t next_deadline() const;
    // Raises the IRQ0 edges that are due at `now`.
    void update(uint64_t now);

    [[nodiscard]] const PitChannel& channel(unsigned index) const { return channels_[index]; }
    [[nodiscard]] uint64_t tick(uint64_t now) const { return clock_.tick(now); }

private:
    // PIT ticks at `now`, never behind a tick already used: vCPUs on different CPUs may
    // present their TSC readings slightly out of order.
    [[nodiscard]] uint64_t monotonic_tick(uint64_t now);
    void write_control(uint8_t value, uint64_t tick);
    void sync_irq0(uint64_t tick);

    DeviceClock clock_;
    // Channels 0 and 1 have their gates tied high; channel 2's is port B bit 0.
    PitChannel channels_[3] = {PitChannel(true), PitChannel(true), PitChannel(false)};
    uint8_t port_b_ = 0; // bits 0-3 as written (gate 2, speaker, parity/IOCHK disables)
    InterruptLine* irq0_;
    bool irq0_level_ = false;
    uint64_t irq0_edges_until_ = 0; // rising edges at ticks <= this have been raised
    uint64_t last_tick_ = 0;
};

} // namespace halcyon::worker
