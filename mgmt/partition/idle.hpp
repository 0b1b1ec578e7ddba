// How the management partition waits between polls of the network: the local APIC's one-shot
// timer (xAPIC at 0xFEE00000, 100 MHz timer clock on Halcyon's fixed guest platform) armed for
// the next poll, then STI; HLT, so the vCPU gives its time back to the core until then. Falls
// back to spinning with PAUSE on the TSC when no local APIC answers.
#pragma once

#include <stdint.h>

namespace halcyon::mgmt::partition {

class Idle {
public:
    // Enables the local APIC (software enable, spurious vector) and sets the timer up; false
    // when no local APIC answers (the spinning fallback is used then).
    bool init(uint64_t tsc_hz);
    // Returns at `deadline_tsc` or soon after (early when another interrupt ends the HLT).
    void until(uint64_t deadline_tsc);
    [[nodiscard]] bool uses_timer() const { return timer_; }

private:
    uint64_t tsc_per_us_ = 1;
    bool timer_ = false;
};

} // namespace halcyon::mgmt::partition
