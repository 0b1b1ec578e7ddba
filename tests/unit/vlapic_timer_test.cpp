// Virtual LAPIC timer: clock conversion accuracy, one-shot, periodic and TSC-deadline modes,
// divide configurations, masking and mode switches, with a fake TSC.
#include "vlapic_test_support.hpp"

#include "vmm/lapic/timer_clock.hpp"

#include <initializer_list>

namespace halcyon::vmm::lapic {
namespace {

using namespace testing;

constexpr uint64_t kT0 = 1'000'000;
constexpr uint64_t kTimerHz = VirtualLapic::kDefaultTimerHz;
constexpr uint32_t kOneShot = 0x00000;
constexpr uint32_t kPeriodic = 0x20000;
constexpr uint32_t kTscDeadline = 0x40000;
constexpr uint32_t kMasked = 0x10000;
constexpr uint32_t kDivideBy1 = 0xB;

// Exact reference: ceil / floor of x * numerator / denominator (host-only 128-bit division).
uint64_t exact_ceil(uint64_t x, uint64_t numerator, uint64_t denominator) {
    const unsigned __int128 product = static_cast<unsigned __int128>(x) * numerator;
    return static_cast<uint64_t>((product + denominator - 1) / denominator);
}
uint64_t exact_floor(uint64_t x, uint64_t numerator, uint64_t denominator) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(x) * numerator / denominator);
}

// A software-enabled LAPIC with the timer programmed at kT0.
struct TimerFixture {
    explicit TimerFixture(uint32_t lvt_timer, uint32_t divide = kDivideBy1, uint64_t tsc = kTscHz)
        : lapic(0, tsc) {
        software_enable(lapic);
        lapic.mmio_write(offset::lvt_first, lvt_timer, kT0, bus);
        lapic.mmio_write(offset::timer_divide, divide, kT0, bus);
    }
    void start(uint32_t count, uint64_t now = kT0) {
        lapic.mmio_write(offset::timer_initial, count, now, bus);
    }
    uint32_t current(uint64_t now) { return lapic.mmio_read(offset::timer_current, now); }
    // Delivers and retires a pending timer interrupt; true if there was one.
    bool fired(uint8_t vector = 0x40) {
        if (lapic.pending_vector() != vector) {
            return false;
        }
        lapic.acknowledge(vector);
        lapic.mmio_write(offset::eoi, 0, 0, bus);
        return true;
    }

    VirtualLapic lapic;
    RecordingBus bus;
};

TEST(VlapicTimerClock, LargeCountsConvertWithinOneTick) {
    const uint64_t max_clocks = uint64_t{0xFFFFFFFF} * 128;
    for (uint64_t tsc : {1'000'000'000ull, 1'234'567'891ull, 2'000'000'000ull, 2'400'600'000ull,
                         2'899'999'999ull, 3'999'999'999ull, 5'000'000'000ull}) {
        const TimerClock clock(tsc, kTimerHz);
        for (uint64_t clocks :
             std::initializer_list<uint64_t>{1, 7, 1000, 123'456'789, max_clocks - 1, max_clocks}) {
            const uint64_t exact = exact_ceil(clocks, tsc, kTimerHz);
            const uint64_t got = clock.ticks_for_clocks(clocks);
            EXPECT_LE(got > exact ? got - exact : exact - got, 1u) << tsc << " " << clocks;
            if (tsc % kTimerHz == 0) {
                EXPECT_EQ(got, exact) << tsc << " " << clocks;
            }
        }
        for (uint64_t ticks : {1ull, 19ull, 1'000'000ull, 1ull << 45, 1ull << 55}) {
            const uint64_t exact = exact_floor(ticks, kTimerHz, tsc);
            const uint64_t got = clock.clocks_in_ticks(ticks);
            EXPECT_LE(got > exact ? got - exact : exact - got, 1u) << tsc << " " << ticks;
        }
    }
}

TEST(VlapicTimerClock, FullCountDeadlineThroughTheLapic) {
    for (uint64_t tsc : {1'000'000'000ull, 3'000'000'000ull, 2'345'678'901ull, 5'000'000'000ull}) {
        TimerFixture timer(0x40 | kOneShot, 0xA /* divide by 128 */, tsc);
        timer.start(0xFFFFFFFF);
        const uint64_t expected = kT0 + exact_ceil(uint64_t{0xFFFFFFFF} * 128, tsc, kTimerHz);
        const uint64_t deadline = timer.lapic.timer_deadline();
        EXPECT_LE(deadline > expected ? deadline - expected : expected - deadline, 1u) << tsc;
        EXPECT_EQ(timer.current(kT0), 0xFFFFFFFFu);
        EXPECT_EQ(timer.current(deadline - 1), 1u);
        EXPECT_EQ(timer.current(deadline), 0u);
    }
}

TEST(VlapicTimer, OneShotFiresAtTheRightTsc) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(1000);
    const uint64_t deadline = kT0 + 1000 * kTicksPerClock;
    EXPECT_EQ(timer.lapic.timer_deadline(), deadline);
    EXPECT_EQ(timer.current(kT0), 1000u);
    EXPECT_EQ(timer.current(kT0 + 1), 1000u);
    EXPECT_EQ(timer.current(kT0 + 100 * kTicksPerClock), 900u);
    EXPECT_EQ(timer.current(deadline - 1), 1u);
    timer.lapic.update(deadline - 1);
    EXPECT_FALSE(timer.fired());
    timer.lapic.update(deadline);
    EXPECT_TRUE(timer.fired());
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    EXPECT_EQ(timer.current(deadline), 0u);
    EXPECT_EQ(timer.lapic.mmio_read(offset::timer_initial, deadline), 1000u);
    timer.lapic.update(deadline + 100'000);
    EXPECT_FALSE(timer.fired()); // one-shot: once
}

TEST(VlapicTimer, RegisterReadsCatchUpWithoutUpdate) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(10);
    // The guest polls the current count past the expiry before the partition called update().
    EXPECT_EQ(timer.current(kT0 + 1'000'000), 0u);
    EXPECT_TRUE(timer.fired());
}

TEST(VlapicTimer, EveryDivideConfiguration) {
    const std::pair<uint32_t, uint64_t> divides[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                     {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
    for (const auto& [config, divisor] : divides) {
        TimerFixture timer(0x40 | kOneShot, config);
        timer.start(10);
        EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 10 * divisor * kTicksPerClock) << config;
        EXPECT_EQ(timer.current(kT0 + divisor * kTicksPerClock), 9u) << config;
    }
}

TEST(VlapicTimer, PeriodicReloadsAndCoalescesWhenLate) {
    TimerFixture timer(0x40 | kPeriodic);
    timer.start(100);
    const uint64_t period = 100 * kTicksPerClock;
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + period);
    timer.lapic.update(kT0 + period);
    EXPECT_TRUE(timer.fired());
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 2 * period);
    EXPECT_EQ(timer.current(kT0 + period), 100u);
    EXPECT_EQ(timer.current(kT0 + period + period / 2), 50u);
    // 10.25 periods late: one interrupt, next expiry on the original schedule.
    const uint64_t late = kT0 + 12 * period + period / 4;
    timer.lapic.update(late);
    EXPECT_TRUE(timer.fired());
    EXPECT_FALSE(timer.fired());
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 13 * period);
    EXPECT_EQ(timer.current(late), 75u);
}

TEST(VlapicTimer, PeriodicDoesNotDriftWithFractionalTicks) {
    constexpr uint64_t tsc = 2'400'600'000; // 24.006 ticks per clock
    TimerFixture timer(0x40 | kPeriodic, kDivideBy1, tsc);
    timer.start(7); // 168.042 ticks per period
    unsigned fires = 0;
    for (unsigned period = 1; period <= 100'000; ++period) {
        const uint64_t deadline = timer.lapic.timer_deadline();
        ASSERT_EQ(deadline, kT0 + exact_ceil(uint64_t{7} * period, tsc, kTimerHz)) << period;
        timer.lapic.update(deadline - 1);
        ASSERT_FALSE(timer.fired());
        timer.lapic.update(deadline);
        fires += timer.fired() ? 1 : 0;
    }
    EXPECT_EQ(fires, 100'000u);
}

TEST(VlapicTimer, MaskedOneShotCountsButRaisesNothing) {
    TimerFixture timer(0x40 | kOneShot | kMasked);
    timer.start(1000);
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    EXPECT_EQ(timer.current(kT0 + 500 * kTicksPerClock), 500u);
    timer.lapic.update(kT0 + 5000 * kTicksPerClock);
    EXPECT_FALSE(timer.fired());
    EXPECT_EQ(timer.current(kT0 + 5000 * kTicksPerClock), 0u);
    // Unmasking afterwards does not resurrect the lost expiry.
    timer.lapic.mmio_write(offset::lvt_first, 0x40, kT0 + 6000 * kTicksPerClock, timer.bus);
    EXPECT_FALSE(timer.fired());
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
}

TEST(VlapicTimer, MaskedPeriodicKeepsItsScheduleUntilUnmasked) {
    TimerFixture timer(0x40 | kPeriodic | kMasked);
    timer.start(100);
    const uint64_t period = 100 * kTicksPerClock;
    timer.lapic.mmio_write(offset::lvt_first, 0x40 | kPeriodic, kT0 + 2 * period + period / 2,
                           timer.bus);
    EXPECT_FALSE(timer.fired()); // expiries while masked are lost
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 3 * period);
    timer.lapic.update(kT0 + 3 * period);
    EXPECT_TRUE(timer.fired());
}

TEST(VlapicTimer, SoftwareDisabledTimerRaisesNothing) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(10);
    timer.lapic.mmio_write(offset::svr, 0xFF, kT0, timer.bus);
    timer.lapic.update(kT0 + 1'000'000);
    EXPECT_EQ(timer.lapic.irr().highest(), -1);
}

TEST(VlapicTimer, InitialCountZeroStopsAndRewriteRestarts) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(1000);
    timer.start(0, kT0 + 100);
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    EXPECT_EQ(timer.current(kT0 + 100), 0u);
    timer.start(500, kT0 + 200);
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 200 + 500 * kTicksPerClock);
    timer.start(50, kT0 + 300); // a rewrite while counting restarts from the new value
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 300 + 50 * kTicksPerClock);
}

TEST(VlapicTimer, DivideChangeWhileCountingKeepsTheCount) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(1000);
    const uint64_t now = kT0 + 500 * kTicksPerClock;
    timer.lapic.mmio_write(offset::timer_divide, 0x0 /* by 2 */, now, timer.bus);
    EXPECT_EQ(timer.current(now), 500u);
    EXPECT_EQ(timer.lapic.timer_deadline(), now + 500 * 2 * kTicksPerClock);
}

TEST(VlapicTimer, TscDeadlineMode) {
    TimerFixture timer(0x40 | kTscDeadline);
    uint64_t value = 1;
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0, value));
    EXPECT_EQ(value, 0u);
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0 + 5000, kT0, timer.bus));
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0, value));
    EXPECT_EQ(value, kT0 + 5000);
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 5000);
    timer.start(100); // initial count writes are ignored, the current count reads 0
    EXPECT_EQ(timer.lapic.mmio_read(offset::timer_initial, kT0), 0u);
    EXPECT_EQ(timer.current(kT0), 0u);
    timer.lapic.update(kT0 + 4999);
    EXPECT_FALSE(timer.fired());
    timer.lapic.update(kT0 + 5000);
    EXPECT_TRUE(timer.fired());
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0 + 5000, value));
    EXPECT_EQ(value, 0u); // disarmed by the expiry
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    // 0 disarms; a deadline in the past fires at once.
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0 + 9000, kT0 + 6000, timer.bus));
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, 0, kT0 + 6000, timer.bus));
    timer.lapic.update(kT0 + 10'000);
    EXPECT_FALSE(timer.fired());
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0, kT0 + 10'000, timer.bus));
    EXPECT_TRUE(timer.fired());
}

TEST(VlapicTimer, TscDeadlineMsrIgnoredInOtherModes) {
    TimerFixture timer(0x40 | kOneShot);
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0 + 5000, kT0, timer.bus));
    uint64_t value = 1;
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0, value));
    EXPECT_EQ(value, 0u);
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
}

TEST(VlapicTimer, MaskedTscDeadlineStillDisarms) {
    TimerFixture timer(0x40 | kTscDeadline | kMasked);
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0 + 100, kT0, timer.bus));
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    uint64_t value = 0;
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0 + 50, value));
    EXPECT_EQ(value, kT0 + 100);
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0 + 200, value));
    EXPECT_EQ(value, 0u);
    EXPECT_EQ(timer.lapic.irr().highest(), -1);
}

TEST(VlapicTimer, ModeChangeDisarms) {
    TimerFixture timer(0x40 | kOneShot);
    timer.start(1000);
    timer.lapic.mmio_write(offset::lvt_first, 0x41 | kOneShot, kT0, timer.bus); // same mode
    EXPECT_EQ(timer.lapic.timer_deadline(), kT0 + 1000 * kTicksPerClock);
    timer.lapic.mmio_write(offset::lvt_first, 0x41 | kPeriodic, kT0, timer.bus);
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    EXPECT_EQ(timer.lapic.mmio_read(offset::timer_initial, kT0), 0u);
    timer.lapic.mmio_write(offset::lvt_first, 0x41 | kTscDeadline, kT0, timer.bus);
    ASSERT_TRUE(timer.lapic.write_msr(msr::tsc_deadline, kT0 + 100, kT0, timer.bus));
    timer.lapic.mmio_write(offset::lvt_first, 0x41 | kOneShot, kT0, timer.bus);
    timer.lapic.mmio_write(offset::lvt_first, 0x41 | kTscDeadline, kT0, timer.bus);
    uint64_t value = 1;
    ASSERT_TRUE(timer.lapic.read_msr(msr::tsc_deadline, kT0, value));
    EXPECT_EQ(value, 0u);
    timer.lapic.update(kT0 + 1000);
    EXPECT_EQ(timer.lapic.irr().highest(), -1);
}

TEST(VlapicTimer, ReservedModeIsInert) {
    TimerFixture timer(0x40 | 0x60000);
    timer.start(10);
    EXPECT_EQ(timer.lapic.mmio_read(offset::lvt_first, kT0), 0x60040u);
    EXPECT_EQ(timer.lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    EXPECT_EQ(timer.current(kT0), 0u);
}

TEST(VlapicTimer, X2apicTimerRegisters) {
    VirtualLapic lapic(3, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    ASSERT_TRUE(lapic.write_msr(0x80F, 0x1FF, kT0, bus));
    ASSERT_TRUE(lapic.write_msr(0x832, 0x40 | kPeriodic, kT0, bus));
    ASSERT_TRUE(lapic.write_msr(0x83E, kDivideBy1, kT0, bus));
    ASSERT_TRUE(lapic.write_msr(0x838, 1000, kT0, bus));
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(0x839, kT0 + 100 * kTicksPerClock, value));
    EXPECT_EQ(value, 900u);
    ASSERT_TRUE(lapic.read_msr(0x838, kT0, value));
    EXPECT_EQ(value, 1000u);
    ASSERT_TRUE(lapic.read_msr(0x83E, kT0, value));
    EXPECT_EQ(value, kDivideBy1);
    lapic.update(kT0 + 1000 * kTicksPerClock);
    EXPECT_EQ(lapic.pending_vector(), 0x40);
}

} // namespace
} // namespace halcyon::vmm::lapic
