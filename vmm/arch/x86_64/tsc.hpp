// The time-stamp counter as the core's clock: log timestamps and short delays. calibrate() learns
// its frequency once at boot from CPUID (leaf 0x15/0x16) when the CPU reports it, else by timing
// the PIT; the ACPI PM timer can re-calibrate later if neither worked.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::x86::tsc {

enum class CalibrationSource : uint8_t { none, cpuid_15h, cpuid_16h, pit, acpi_pm_timer };

// Remembers `entry_tsc` as time zero and measures the frequency (~20 ms with the PIT). On failure
// timestamps are reported as 0 until calibrate_with_pm_timer() succeeds.
[[nodiscard]] ErrorOr<void> calibrate(uint64_t entry_tsc);
// Measures against the ACPI PM timer (3.579545 MHz) at I/O `port`.
[[nodiscard]] ErrorOr<void> calibrate_with_pm_timer(uint16_t port, bool timer_is_32bit);

[[nodiscard]] uint64_t frequency_hz(); // 0 while uncalibrated
[[nodiscard]] CalibrationSource source();
[[nodiscard]] const char* source_name(CalibrationSource source);
[[nodiscard]] uint64_t entry_tsc();

// Time since core entry.
struct Elapsed {
    uint64_t seconds;
    uint32_t microseconds;
};
[[nodiscard]] Elapsed since_entry();
// Microseconds between two TSC readings (0 while uncalibrated).
[[nodiscard]] uint64_t ticks_to_microseconds(uint64_t ticks);
// Busy-waits at least `microseconds` (returns at once while uncalibrated).
void delay_microseconds(uint64_t microseconds);

} // namespace halcyon::x86::tsc
