// Timeouts for the bring-up waits (IPI delivery, "is the AP online yet", power-off grace
// period), on top of the core's calibrated TSC (vmm/arch/x86_64/tsc.hpp).
//
// Only busy-waiting: these waits happen with interrupts disabled, before any timer interrupt
// exists. Only the BSP measures elapsed times, so TSC skew between CPUs never matters.
#pragma once

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"

#include <stdint.h>

namespace halcyon::x86 {

// A point in time `microseconds` from now. While the TSC is uncalibrated a 10 GHz TSC is
// assumed, so timeouts err on the long side instead of expiring at once.
class Deadline {
public:
    explicit Deadline(uint64_t microseconds) : end_tsc_(rdtsc() + to_ticks(microseconds)) {}

    [[nodiscard]] bool expired() const { return static_cast<int64_t>(rdtsc() - end_tsc_) >= 0; }

    [[nodiscard]] static uint64_t to_ticks(uint64_t microseconds) {
        const uint64_t hz = tsc::frequency_hz() != 0 ? tsc::frequency_hz() : 10'000'000'000ull;
        // Split so microseconds * hz cannot overflow for long waits.
        return microseconds / 1'000'000 * hz + microseconds % 1'000'000 * hz / 1'000'000;
    }

private:
    uint64_t end_tsc_;
};

// Spins at least `microseconds` (also before calibration, unlike tsc::delay_microseconds).
inline void spin_microseconds(uint64_t microseconds) {
    const Deadline deadline(microseconds);
    while (!deadline.expired())
        pause();
}

} // namespace halcyon::x86
