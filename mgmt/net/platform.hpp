// The pieces of the machine the management network uses that are the same wherever it runs (in
// the core or in the management partition): busy waits on the TSC, the CMOS real-time clock,
// and entropy from RDSEED/RDRAND. Plain x86 instructions and port I/O only, no page tables and
// no allocator, so the partition links them unchanged. What differs between the two places (DMA
// memory, device-register mappings) is injected into start() (service.hpp).
#pragma once

#include "drivers/net/device_memory.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt::net {

// Busy waiting on the TSC (calibrated frequency), for the drivers' bounded register polls.
class TscDelay final : public drivers::Delay {
public:
    explicit TscDelay(uint64_t tsc_hz) : ticks_per_us_(tsc_hz / 1'000'000 + 1) {}
    void delay_us(uint32_t microseconds) override;

private:
    uint64_t ticks_per_us_;
};

// Seconds since 1970-01-01 UTC from the CMOS RTC (assumed to run in UTC, as QEMU's default
// and servers' usual setting); 0 when the clock reads as invalid.
[[nodiscard]] int64_t read_rtc_unix_seconds();

// Fills `out` with entropy: RDSEED, else RDRAND, mixed with TSC samples. Returns false when
// neither instruction exists (then only TSC jitter went in: weak, and the caller says so).
[[nodiscard]] bool gather_entropy(std::span<uint8_t> out);

// One 32-bit random number (RDRAND, else a TSC-seeded xorshift) for lwIP.
[[nodiscard]] uint32_t random32();

[[nodiscard]] inline uint64_t read_tsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

} // namespace halcyon::mgmt::net
