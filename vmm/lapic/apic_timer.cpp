#include "vmm/lapic/apic_timer.hpp"

#include <algorithm>
#include <bit>

namespace halcyon::vmm::lapic {

namespace {

// Past this many timer clocks (about 3 hours at 100 MHz) a periodic schedule moves its anchor
// forward, so the clock arithmetic never nears 64 bits. Each move drops less than one TSC tick.
constexpr uint64_t kRebaseClocks = uint64_t{1} << 40;

uint64_t saturating_add(uint64_t a, uint64_t b) {
    return a > ApicTimer::kNever - b ? ApicTimer::kNever : a + b;
}

bool counts_down(TimerMode mode) {
    return mode == TimerMode::one_shot || mode == TimerMode::periodic;
}

} // namespace

void ApicTimer::reset() {
    mode_ = TimerMode::one_shot;
    initial_count_ = 0;
    divide_configuration_ = 0;
    tsc_deadline_ = 0;
    disarm();
}

void ApicTimer::set_mode(TimerMode mode) {
    if (mode == mode_) {
        return;
    }
    // SDM: "A write to the LVT Timer Register that changes the timer mode disarms the local APIC
    // timer." We also zero the registers, so no stale count or deadline survives the switch.
    mode_ = mode;
    initial_count_ = 0;
    tsc_deadline_ = 0;
    disarm();
}

void ApicTimer::set_initial_count(uint32_t count, uint64_t now) {
    if (!counts_down(mode_)) {
        return;
    }
    initial_count_ = count;
    if (count == 0) {
        disarm();
    } else {
        arm(now, uint64_t{count} * divisor());
    }
}

uint32_t ApicTimer::current_count(uint64_t now) const {
    if (!armed_ || !counts_down(mode_) || now >= next_tsc_) {
        return 0;
    }
    // Rounded up, so the count reads 0 exactly from the expiry on and at least 1 before it.
    const uint64_t remaining_clocks = clock_.clocks_in_ticks_ceil(next_tsc_ - now);
    const uint32_t divide = divisor();
    const uint64_t count = (remaining_clocks + divide - 1) >> std::countr_zero(divide);
    return static_cast<uint32_t>(std::min<uint64_t>(count, initial_count_));
}

void ApicTimer::set_divide_configuration(uint32_t value, uint64_t now) {
    value &= 0xB;
    if (value == divide_configuration_) {
        return;
    }
    const uint32_t count = current_count(now);
    divide_configuration_ = value;
    if (armed_ && count != 0) {
        arm(now, uint64_t{count} * divisor());
    }
}

uint32_t ApicTimer::divisor() const {
    // Bits 3,1:0 = 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1.
    const uint32_t code = ((divide_configuration_ >> 1) & 4) | (divide_configuration_ & 3);
    return uint32_t{1} << ((code + 1) & 7);
}

uint64_t ApicTimer::next_expiry() const {
    if (mode_ == TimerMode::tsc_deadline) {
        return tsc_deadline_ == 0 ? kNever : tsc_deadline_;
    }
    return armed_ && counts_down(mode_) ? next_tsc_ : kNever;
}

bool ApicTimer::expire(uint64_t now) {
    if (mode_ == TimerMode::tsc_deadline) {
        if (tsc_deadline_ == 0 || now < tsc_deadline_) {
            return false;
        }
        tsc_deadline_ = 0;
        return true;
    }
    if (!armed_ || !counts_down(mode_) || now < next_tsc_) {
        return false;
    }
    if (mode_ == TimerMode::one_shot) {
        disarm();
        return true;
    }
    // Periodic: skip every boundary up to `now` (coalesced into this one expiry) and keep the
    // original schedule.
    const uint64_t period = uint64_t{initial_count_} * divisor();
    const uint64_t late_clocks = clock_.clocks_in_ticks(now - next_tsc_);
    offset_clocks_ += (late_clocks / period + 1) * period;
    recompute_next();
    // Rounding of `late_clocks` can leave the boundary at or before `now`; a step or two more.
    for (int step = 0; step < 4 && next_tsc_ <= now; ++step) {
        offset_clocks_ += period;
        recompute_next();
    }
    return true;
}

void ApicTimer::arm(uint64_t now, uint64_t clocks) {
    armed_ = true;
    anchor_tsc_ = now;
    offset_clocks_ = clocks;
    recompute_next();
}

void ApicTimer::disarm() {
    armed_ = false;
    next_tsc_ = kNever;
}

void ApicTimer::recompute_next() {
    if (offset_clocks_ > kRebaseClocks && mode_ == TimerMode::periodic) {
        const uint64_t period = uint64_t{initial_count_} * divisor();
        const uint64_t moved = offset_clocks_ - period;
        anchor_tsc_ = saturating_add(anchor_tsc_, clock_.ticks_in_clocks_floor(moved));
        offset_clocks_ = period;
    }
    next_tsc_ = saturating_add(anchor_tsc_, clock_.ticks_for_clocks(offset_clocks_));
}

} // namespace halcyon::vmm::lapic
