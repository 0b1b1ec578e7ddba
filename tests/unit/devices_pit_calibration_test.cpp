// Linux calibrates the TSC against PIT channel 2 (arch/x86/kernel/tsc.c): quick_pit_calibrate
// watches the MSB of a mode 0 count go down, pit_calibrate_tsc polls port 0x61 bit 5 for the
// end of a 10 ms one-shot. These tests replay both loops, port access by port access, against
// the model with a simulated TSC in which every port access costs a VM exit, and check the
// frequency the guest would compute.
#include "devices_test_support.hpp"
#include "vmm/worker/devices/pit8254.hpp"
#include "vmm/worker/devices/platform.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace halcyon::worker {
namespace {

using testing::RecordingLine;

constexpr uint64_t kPitTickRate = platform::kPitHz;

// A guest CPU whose port accesses exit to the VMM: the TSC advances by the exit's cost, and
// the device sees `now` partway through it.
class SimulatedGuest {
public:
    SimulatedGuest(uint64_t tsc_hz, uint64_t exit_ns, uint64_t jitter_ns, uint32_t seed)
        : tsc_hz_(tsc_hz), exit_cycles_(tsc_hz / 1'000'000'000.0 * exit_ns),
          jitter_cycles_(tsc_hz / 1'000'000'000.0 * jitter_ns), random_(seed),
          pit_(tsc_hz, tsc_, irq0_) {}

    uint8_t inb(uint16_t port) {
        spend(exit_cost() / 2);
        const auto value = static_cast<uint8_t>(pit_.read(port, 1, tsc_));
        spend(exit_cost() / 2);
        return value;
    }
    void outb(uint8_t value, uint16_t port) {
        spend(exit_cost() / 2);
        pit_.write(port, 1, value, tsc_);
        spend(exit_cost() / 2);
    }
    uint64_t rdtsc() {
        spend(30);
        return tsc_;
    }
    uint64_t tsc_hz() const { return tsc_hz_; }

private:
    uint64_t exit_cost() {
        std::uniform_int_distribution<uint64_t> jitter(0, jitter_cycles_);
        return exit_cycles_ + jitter(random_);
    }
    void spend(uint64_t cycles) { tsc_ += cycles; }

    uint64_t tsc_hz_;
    uint64_t exit_cycles_;
    uint64_t jitter_cycles_;
    std::mt19937 random_;
    uint64_t tsc_ = 123'456'789'012;
    RecordingLine irq0_;
    Pit8254 pit_;
};

// pit_calibrate_tsc(latch, ms, loopmin): TSC kHz, or ULONG_MAX when the guest would reject it.
uint64_t pit_calibrate_tsc(SimulatedGuest& guest, uint32_t latch, uint64_t ms, int loopmin) {
    guest.outb(static_cast<uint8_t>((guest.inb(0x61) & ~0x02) | 0x01), 0x61);
    guest.outb(0xb0, 0x43);
    guest.outb(static_cast<uint8_t>(latch & 0xff), 0x42);
    guest.outb(static_cast<uint8_t>(latch >> 8), 0x42);
    uint64_t tsc = guest.rdtsc();
    const uint64_t t1 = tsc;
    uint64_t t2 = tsc;
    int pitcnt = 0;
    uint64_t tscmax = 0;
    uint64_t tscmin = UINT64_MAX;
    while ((guest.inb(0x61) & 0x20) == 0) {
        t2 = guest.rdtsc();
        const uint64_t delta = t2 - tsc;
        tsc = t2;
        tscmin = delta < tscmin ? delta : tscmin;
        tscmax = delta > tscmax ? delta : tscmax;
        ++pitcnt;
        if (pitcnt > 10'000'000)
            return UINT64_MAX; // OUT never rose: the guest would hang here
    }
    if (pitcnt < loopmin || tscmax > 10 * tscmin)
        return UINT64_MAX;
    return (t2 - t1) / ms;
}

bool pit_verify_msb(SimulatedGuest& guest, uint8_t value) {
    (void)guest.inb(0x42); // LSB, ignored
    return guest.inb(0x42) == value;
}

bool pit_expect_msb(SimulatedGuest& guest, uint8_t value, uint64_t* tscp, uint64_t* deltap) {
    int count = 0;
    uint64_t tsc = 0;
    uint64_t prev_tsc = 0;
    for (; count < 50000; ++count) {
        if (!pit_verify_msb(guest, value))
            break;
        prev_tsc = tsc;
        tsc = guest.rdtsc();
    }
    *deltap = guest.rdtsc() - prev_tsc;
    *tscp = tsc;
    return count > 5;
}

// quick_pit_calibrate(): TSC kHz, or 0 when it gives up.
uint64_t quick_pit_calibrate(SimulatedGuest& guest) {
    constexpr int kMaxIterations = 50 * kPitTickRate / 1000 / 256;
    guest.outb(static_cast<uint8_t>((guest.inb(0x61) & ~0x02) | 0x01), 0x61);
    guest.outb(0xb0, 0x43);
    guest.outb(0xff, 0x42);
    guest.outb(0xff, 0x42);
    (void)pit_verify_msb(guest, 0);
    uint64_t tsc = 0;
    uint64_t d1 = 0;
    if (!pit_expect_msb(guest, 0xff, &tsc, &d1))
        return 0;
    for (int i = 1; i <= kMaxIterations; ++i) {
        uint64_t delta = 0;
        uint64_t d2 = 0;
        if (!pit_expect_msb(guest, static_cast<uint8_t>(0xff - i), &delta, &d2))
            return 0;
        delta -= tsc;
        if (i == 1 && d1 + d2 >= (delta * kMaxIterations) >> 11)
            return 0;
        if (d1 + d2 >= delta >> 11)
            continue;
        if (!pit_verify_msb(guest, static_cast<uint8_t>(0xfe - i)))
            return 0;
        return delta * kPitTickRate / (static_cast<uint64_t>(i) * 256 * 1000);
    }
    return 0;
}

struct Scenario {
    uint64_t tsc_hz;
    uint64_t exit_ns;
    uint64_t jitter_ns;
};

constexpr Scenario kScenarios[] = {
    {2'500'000'000, 1200, 300},
    {testing::kOddTscHz[0], 2000, 500},
    {testing::kOddTscHz[1], 800, 100},
};

// How much later than the PIT event the guest's TSC read can be, at worst.
double late_ns(const Scenario& scenario) {
    return 1.5 * static_cast<double>(scenario.exit_ns + scenario.jitter_ns) + 30;
}

double error_ppm(uint64_t khz, uint64_t tsc_hz) {
    const double truth = tsc_hz / 1000.0;
    return (static_cast<double>(khz) - truth) / truth * 1e6;
}

TEST(DevicesPitCalibrationTest, QuickPitCalibrateSucceedsWithin60Ppm) {
    uint32_t seed = 1;
    for (const Scenario& scenario : kScenarios) {
        SimulatedGuest guest(scenario.tsc_hz, scenario.exit_ns, scenario.jitter_ns, seed++);
        const uint64_t khz = quick_pit_calibrate(guest);
        ASSERT_NE(khz, 0u) << "quick calibration failed at " << scenario.tsc_hz << " Hz";
        // Linux accepts up to 500 ppm; with steady exits the result is far better, and a PIT
        // running 100 ppm off would show.
        EXPECT_LT(std::abs(error_ppm(khz, scenario.tsc_hz)), 60) << khz;
    }
}

TEST(DevicesPitCalibrationTest, PitCalibrateTscMeasures10Ms) {
    constexpr uint32_t kCalLatch = kPitTickRate / (1000 / 10);
    uint32_t seed = 11;
    for (const Scenario& scenario : kScenarios) {
        SimulatedGuest guest(scenario.tsc_hz, scenario.exit_ns, scenario.jitter_ns, seed++);
        const uint64_t khz = pit_calibrate_tsc(guest, kCalLatch, 10, 1000);
        ASSERT_NE(khz, UINT64_MAX) << "rejected at " << scenario.tsc_hz << " Hz";
        // The latch is 11931 ticks for 10 ms: 69 ppm short by construction in Linux. t1 is
        // read half an exit after the PIT was loaded, and the loop keeps the TSC of the
        // iteration before the one that saw OUT high: short by up to 1.5 exits more.
        const double error = error_ppm(khz, scenario.tsc_hz);
        EXPECT_GT(error, -69 - late_ns(scenario) / 10.0 - 5) << khz;
        EXPECT_LT(error, -69 + 5) << khz;
    }
}

TEST(DevicesPitCalibrationTest, PitCalibrateTscSecondPass50Ms) {
    constexpr uint32_t kCal2Latch = kPitTickRate / (1000 / 50);
    SimulatedGuest guest(2'200'000'000, 1500, 300, 99);
    const uint64_t khz = pit_calibrate_tsc(guest, kCal2Latch, 50, 5000);
    ASSERT_NE(khz, UINT64_MAX);
    const double error = error_ppm(khz, 2'200'000'000);
    EXPECT_LT(error, -1.4 + 2) << khz; // 59659 ticks for 50 ms
    EXPECT_GT(error, -1.4 - late_ns({2'200'000'000, 1500, 300}) / 50.0 - 2) << khz;
}

} // namespace
} // namespace halcyon::worker
