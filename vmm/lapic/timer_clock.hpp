// Conversion between LAPIC timer clocks (timer_hz, before the divider) and TSC ticks (tsc_hz)
// without 128-bit division (the core does not link compiler-rt): each direction is a 64-bit
// fixed-point ratio computed once, applied with a 64x64->128 multiply and a shift.
//
// The shift is chosen per ratio as large as the 64-bit factor allows, so the error of a
// conversion is below x / 2^(63 - log2(ratio)): for a full LAPIC count (0xFFFFFFFF clocks with
// divide 128, < 2^39 clocks) and any TSC from 1 to 5 GHz that is far below one TSC tick.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::lapic {

// x * numerator / denominator in fixed point.
class FixedRatio {
public:
    FixedRatio(uint64_t numerator, uint64_t denominator);

    // floor / ceil of x * ratio, saturating at UINT64_MAX.
    [[nodiscard]] uint64_t floor(uint64_t x) const;
    [[nodiscard]] uint64_t ceil(uint64_t x) const;

private:
    uint64_t factor_ = 0; // floor(numerator * 2^shift_ / denominator), < 2^63
    unsigned shift_ = 0;
};

class TimerClock {
public:
    TimerClock(uint64_t tsc_hz, uint64_t timer_hz)
        : to_ticks_(tsc_hz, timer_hz), to_clocks_(timer_hz, tsc_hz) {}

    // The first TSC offset at which `clocks` timer clocks have elapsed (rounded up).
    [[nodiscard]] uint64_t ticks_for_clocks(uint64_t clocks) const {
        return to_ticks_.ceil(clocks);
    }
    // Timer clocks elapsed in `ticks` TSC ticks, rounded down / up.
    [[nodiscard]] uint64_t clocks_in_ticks(uint64_t ticks) const { return to_clocks_.floor(ticks); }
    [[nodiscard]] uint64_t clocks_in_ticks_ceil(uint64_t ticks) const {
        return to_clocks_.ceil(ticks);
    }
    // TSC ticks in `clocks` timer clocks, rounded down.
    [[nodiscard]] uint64_t ticks_in_clocks_floor(uint64_t clocks) const {
        return to_ticks_.floor(clocks);
    }

private:
    FixedRatio to_ticks_;
    FixedRatio to_clocks_;
};

} // namespace halcyon::vmm::lapic
