// The CMOS real-time clock (Motorola MC146818 and its PC descendants): index port 0x70 (bit 7
// is the chipset's NMI-disable bit, ignored here), data port 0x71, 128 bytes of which
// 0x00-0x09 are the time and date, 0x0A-0x0D the status registers, 0x32 the century
// (the FADT's CENTURY field points there) and the rest plain NVRAM (all zeros at power-on).
//
// The time is the epoch second given at construction plus the elapsed TSC. Registers 0-9 and
// the century read in BCD or binary as register B's DM bit says, hours in 12- or 24-hour form
// per its 24/12 bit. Writes to them set the clock: while register B's SET bit is set the
// clock is held and edits collect field by field (the usual way to set it); without SET a
// write moves the running clock. The weekday is derived from the date (writes are ignored).
//
// Register A reports update-in-progress during the last 244 us of every second, as the part
// does, so a guest waiting for UIP to clear never waits longer than that. Register C's UF
// bit says a second passed since the last read of C (reads clear it); no IRQ 8 interrupts
// (periodic, alarm, update) are raised, so PF, AF and IRQF never set through interrupts.
// Register D always reports valid RAM and time.
#pragma once

#include "vmm/worker/devices/calendar.hpp"

#include <stdint.h>

namespace halcyon::worker {

class CmosRtc {
public:
    static constexpr uint16_t kIndexPort = 0x70;
    static constexpr uint16_t kDataPort = 0x71;

    // `epoch_seconds`: the time at TSC `now` (seconds since 1970-01-01T00:00:00 UTC).
    CmosRtc(uint64_t tsc_hz, uint64_t now, int64_t epoch_seconds);

    [[nodiscard]] bool claims(uint16_t port) const {
        return port == kIndexPort || port == kDataPort;
    }
    uint32_t read(uint16_t port, uint8_t size, uint64_t now);
    void write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] uint8_t read_byte(uint16_t port, uint64_t now);
    void write_byte(uint16_t port, uint8_t value, uint64_t now);

    // The clock as the guest has set it, in seconds since the epoch.
    [[nodiscard]] int64_t epoch_seconds(uint64_t now) const;

private:
    [[nodiscard]] uint8_t read_register(uint8_t index, uint64_t now);
    void write_register(uint8_t index, uint8_t value, uint64_t now);
    void write_time_field(uint8_t index, uint8_t value, uint64_t now);
    void write_control(uint8_t value, uint64_t now);
    [[nodiscard]] CivilTime civil_time(uint64_t now) const;
    [[nodiscard]] uint64_t whole_seconds_since_origin(uint64_t tsc) const;
    [[nodiscard]] bool binary() const;
    [[nodiscard]] bool hours_24() const;
    [[nodiscard]] uint8_t encode(unsigned value) const;
    [[nodiscard]] unsigned decode(uint8_t value) const;

    uint64_t tsc_hz_;
    uint64_t update_window_cycles_; // UIP is reported this long before each second ends
    uint64_t origin_;               // TSC at which the clock read epoch_at_origin_
    int64_t epoch_at_origin_;
    bool held_ = false; // register B SET: the clock stands in held_time_
    CivilTime held_time_;
    uint64_t flags_read_at_; // TSC of the last read of register C
    uint8_t index_ = 0;
    uint8_t bytes_[128] = {}; // NVRAM, plus the stored alarm, A and B registers
};

} // namespace halcyon::worker
