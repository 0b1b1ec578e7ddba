// The LAPIC timer as a state machine over TSC time (SDM "APIC Timer" and "TSC-Deadline Mode").
// It knows nothing about vectors or masking: VirtualLapic asks it when it expires next and
// whether it expired by `now`, and raises the LVT timer interrupt itself.
//
// One-shot and periodic modes count timer_hz clocks divided by the divide configuration. The
// schedule is kept in timer clocks from an anchor TSC, so periodic expiries do not drift by the
// rounding of each period to whole TSC ticks. A caller that comes late by several periods gets
// one expiry (interrupts coalesce like an edge-triggered line) and the timer re-arms on the
// original schedule: the next expiry is the first period boundary after `now`.
#pragma once

#include "vmm/lapic/timer_clock.hpp"

#include <stdint.h>

namespace halcyon::vmm::lapic {

enum class TimerMode : uint8_t { one_shot = 0, periodic = 1, tsc_deadline = 2, reserved = 3 };

class ApicTimer {
public:
    static constexpr uint64_t kNever = UINT64_MAX;

    ApicTimer(uint64_t tsc_hz, uint64_t timer_hz) : clock_(tsc_hz, timer_hz) {}

    // Power-up / INIT state: one-shot, disarmed, counts 0, divide configuration 0 (by 2).
    void reset();

    [[nodiscard]] TimerMode mode() const { return mode_; }
    // A mode change disarms the timer: initial count, current count and deadline become 0.
    void set_mode(TimerMode mode);

    // Initial-count register. Ignored in TSC-deadline and reserved modes; 0 stops the timer, any
    // other value (re)starts counting at `now`.
    void set_initial_count(uint32_t count, uint64_t now);
    [[nodiscard]] uint32_t initial_count() const { return initial_count_; }
    // Current-count register (0 when disarmed or not in one-shot/periodic mode). Call expire(now)
    // first: the value is only meaningful for a timer whose past expiries were processed.
    [[nodiscard]] uint32_t current_count(uint64_t now) const;

    // Divide configuration register (bits 0, 1, 3). A change while counting keeps the current
    // count and continues at the new rate.
    void set_divide_configuration(uint32_t value, uint64_t now);
    [[nodiscard]] uint32_t divide_configuration() const { return divide_configuration_; }
    [[nodiscard]] uint32_t divisor() const;

    // IA32_TSC_DEADLINE (the caller only forwards it in TSC-deadline mode): non-zero arms, 0
    // disarms; reads the armed value, 0 after the expiry.
    void set_tsc_deadline(uint64_t deadline) { tsc_deadline_ = deadline; }
    [[nodiscard]] uint64_t tsc_deadline() const { return tsc_deadline_; }

    // TSC of the next expiry, kNever when disarmed.
    [[nodiscard]] uint64_t next_expiry() const;
    // Processes expiries up to `now`: returns true when the timer expired (once, however late),
    // after re-arming a periodic timer or disarming a one-shot / deadline timer.
    [[nodiscard]] bool expire(uint64_t now);

private:
    void arm(uint64_t now, uint64_t clocks);
    void disarm();
    void recompute_next();

    TimerClock clock_;
    TimerMode mode_ = TimerMode::one_shot;
    uint32_t initial_count_ = 0;
    uint32_t divide_configuration_ = 0;
    uint64_t tsc_deadline_ = 0;
    // One-shot/periodic schedule: the next expiry is `offset_clocks_` timer clocks after
    // `anchor_tsc_` (cached in `next_tsc_`).
    bool armed_ = false;
    uint64_t anchor_tsc_ = 0;
    uint64_t offset_clocks_ = 0;
    uint64_t next_tsc_ = kNever;
};

} // namespace halcyon::vmm::lapic
