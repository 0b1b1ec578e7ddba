// Converts TSC cycles to the ticks of a slower device clock (PIT 1.193182 MHz, ACPI PM timer
// 3.579545 MHz, 1 Hz for the RTC) and back, exactly and with 64-bit arithmetic only: the core
// does not link compiler-rt, so 128-bit division is not available.
//
// Splitting x = q * from + r gives floor(x * to / from) = q * to + floor(r * to / from), and
// r * to < from * to fits in 64 bits for any TSC below ~5 THz against a clock below ~3.6 MHz.
// q * to cannot overflow because the device clock is slower than the TSC.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

class TickConverter {
public:
    constexpr TickConverter(uint64_t tsc_hz, uint64_t tick_hz)
        : tsc_hz_(tsc_hz != 0 ? tsc_hz : 1), tick_hz_(tick_hz != 0 ? tick_hz : 1) {}

    // Whole device ticks in `cycles` TSC cycles: floor(cycles * tick_hz / tsc_hz).
    [[nodiscard]] constexpr uint64_t ticks(uint64_t cycles) const {
        return cycles / tsc_hz_ * tick_hz_ + cycles % tsc_hz_ * tick_hz_ / tsc_hz_;
    }

    // The fewest TSC cycles in which `ticks` device ticks have elapsed:
    // ceil(ticks * tsc_hz / tick_hz), saturating at UINT64_MAX.
    [[nodiscard]] constexpr uint64_t cycles_for(uint64_t ticks) const {
        const uint64_t whole = ticks / tick_hz_;
        if (whole > UINT64_MAX / tsc_hz_)
            return UINT64_MAX;
        const uint64_t head = whole * tsc_hz_;
        const uint64_t tail = (ticks % tick_hz_ * tsc_hz_ + tick_hz_ - 1) / tick_hz_;
        return head > UINT64_MAX - tail ? UINT64_MAX : head + tail;
    }

    [[nodiscard]] constexpr uint64_t tsc_hz() const { return tsc_hz_; }
    [[nodiscard]] constexpr uint64_t tick_hz() const { return tick_hz_; }

private:
    uint64_t tsc_hz_;
    uint64_t tick_hz_;
};

// A device clock that started at a TSC value: ticks since then, and when a tick comes.
class DeviceClock {
public:
    constexpr DeviceClock(uint64_t tsc_hz, uint64_t tick_hz, uint64_t origin_tsc)
        : converter_(tsc_hz, tick_hz), origin_(origin_tsc) {}

    // Ticks elapsed at TSC `now` (0 before the origin).
    [[nodiscard]] constexpr uint64_t tick(uint64_t now) const {
        return now > origin_ ? converter_.ticks(now - origin_) : 0;
    }
    // The first TSC value at which tick() reaches `tick` (UINT64_MAX: never representable).
    [[nodiscard]] constexpr uint64_t tsc_at(uint64_t tick) const {
        const uint64_t cycles = converter_.cycles_for(tick);
        return cycles > UINT64_MAX - origin_ ? UINT64_MAX : origin_ + cycles;
    }
    [[nodiscard]] constexpr const TickConverter& converter() const { return converter_; }

private:
    TickConverter converter_;
    uint64_t origin_;
};

} // namespace halcyon::worker
