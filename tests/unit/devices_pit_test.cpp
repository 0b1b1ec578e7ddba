#include "devices_test_support.hpp"
#include "vmm/worker/devices/pit8254.hpp"
#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/devices/tick_converter.hpp"

#include <gtest/gtest.h>

#include <random>

namespace halcyon::worker {
namespace {

using testing::kTscHz;
using testing::RecordingLine;

constexpr uint64_t kStart = 1'000'000'000'000; // the TSC is far from 0 at power-on

class DevicesPitTest : public ::testing::Test {
protected:
    void out(uint16_t port, uint8_t value) { pit.write(port, 1, value, now); }
    uint8_t in(uint16_t port) { return static_cast<uint8_t>(pit.read(port, 1, now)); }
    void advance_ticks(uint64_t ticks) { now = clock.tsc_at(clock.tick(now) + ticks); }
    uint16_t latched_count(unsigned channel) {
        out(0x43, static_cast<uint8_t>(channel << 6)); // counter latch
        const uint8_t low = in(static_cast<uint16_t>(0x40 + channel));
        return static_cast<uint16_t>(low | in(static_cast<uint16_t>(0x40 + channel)) << 8);
    }
    // Runs the VM loop: update at every deadline up to `until`; returns the updates made.
    int run_until(uint64_t until) {
        int updates = 0;
        for (uint64_t deadline = pit.next_deadline(); deadline <= until;
             deadline = pit.next_deadline()) {
            now = deadline;
            pit.update(now);
            ++updates;
        }
        now = until;
        pit.update(now);
        return updates;
    }

    uint64_t now = kStart;
    DeviceClock clock{kTscHz, platform::kPitHz, kStart};
    RecordingLine irq0;
    Pit8254 pit{kTscHz, kStart, irq0};
};

TEST(DevicesTickConverterTest, MatchesExactArithmetic) {
    std::mt19937_64 random(7);
    for (const uint64_t tsc_hz :
         {uint64_t{1'000'000'000}, testing::kOddTscHz[0], kTscHz, testing::kOddTscHz[1]}) {
        const TickConverter converter(tsc_hz, platform::kPitHz);
        for (int i = 0; i < 2000; ++i) {
            const uint64_t cycles = random() >> (random() % 64);
            const auto exact = static_cast<uint64_t>(static_cast<unsigned __int128>(cycles) *
                                                     platform::kPitHz / tsc_hz);
            ASSERT_EQ(converter.ticks(cycles), exact) << cycles;
            const uint64_t ticks = exact;
            const uint64_t back = converter.cycles_for(ticks);
            ASSERT_GE(converter.ticks(back), ticks);
            if (back > 0)
                ASSERT_LT(converter.ticks(back - 1), ticks);
        }
    }
    EXPECT_EQ(TickConverter(kTscHz, platform::kPitHz).cycles_for(UINT64_MAX), UINT64_MAX);
}

TEST_F(DevicesPitTest, ClockRunsAt1193182HzOfTheTsc) {
    out(0x43, 0x34);
    out(0x40, 0);
    out(0x40, 0);                     // 65536
    now = kStart + kTscHz / 1000 * 7; // 7 ms = 8352.274 ticks
    EXPECT_EQ(latched_count(0), 65536 - 8352);
    now = kStart + kTscHz;
    // 1193182 ticks = 18 periods + 13534.
    EXPECT_EQ(latched_count(0), 65536 - 13534);
}

TEST_F(DevicesPitTest, OutOfOrderTimestampsDoNotRewindTheCounter) {
    out(0x43, 0x34);
    out(0x40, 0x00);
    out(0x40, 0x10);
    advance_ticks(100);
    const uint16_t count = latched_count(0);
    now -= kTscHz / 10'000; // 100 us older
    EXPECT_EQ(latched_count(0), count);
    out(0x40, 0x00); // a new count (pending for the next period) with an old timestamp
    out(0x40, 0x08);
    advance_ticks(200);
    EXPECT_EQ(clock.tick(pit.next_deadline()), 4096u);
}

TEST_F(DevicesPitTest, PeriodicModeTwoRaisesIrq0EveryPeriod) {
    out(0x43, 0x34); // channel 0, LSB/MSB, mode 2 (Linux's periodic clockevent)
    out(0x40, 1193 & 0xFF);
    out(0x40, 1193 >> 8);
    const int edges_at_start = irq0.rising_edges; // OUT went high with the control word
    const uint64_t first = pit.next_deadline();
    EXPECT_EQ(first, clock.tsc_at(clock.tick(kStart) + 1193));
    pit.update(first - 1);
    EXPECT_EQ(irq0.rising_edges, edges_at_start);
    // One second: 1000 periods of 1193 ticks (999.85 us each).
    const uint64_t one_second = kStart + kTscHz;
    run_until(one_second);
    EXPECT_EQ(irq0.rising_edges - edges_at_start, 1000);
    EXPECT_TRUE(irq0.level); // OUT is high between the one-tick low pulses
    EXPECT_GT(pit.next_deadline(), one_second);
    EXPECT_LT(pit.next_deadline(), one_second + kTscHz / 1000);
}

TEST_F(DevicesPitTest, LateUpdatesCoalesceMissedPeriods) {
    out(0x43, 0x34);
    out(0x40, 0x00);
    out(0x40, 0x10); // 4096 ticks
    const int before = irq0.rising_edges;
    advance_ticks(5 * 4096 + 100);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, before + 1);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, before + 1);
    EXPECT_GT(pit.next_deadline(), now);
    EXPECT_EQ(clock.tick(pit.next_deadline()), 6 * 4096u);
}

TEST_F(DevicesPitTest, ModeZeroFiresOnceAtTerminalCount) {
    out(0x43, 0x30); // mode 0: OUT low
    EXPECT_FALSE(irq0.level);
    out(0x40, 100);
    out(0x40, 0);
    EXPECT_EQ(clock.tick(pit.next_deadline()), 100u);
    advance_ticks(99);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, 0);
    advance_ticks(1);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, 1);
    EXPECT_EQ(pit.next_deadline(), UINT64_MAX);
    advance_ticks(100'000); // the counter wraps on but OUT stays high
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, 1);
    EXPECT_TRUE(irq0.level);
    // A new count makes OUT low again and arms a new interrupt.
    out(0x40, 50);
    out(0x40, 0);
    EXPECT_FALSE(irq0.level);
    advance_ticks(50);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, 2);
}

TEST_F(DevicesPitTest, ModeFourStrobesOneTickAfterTerminalCount) {
    out(0x43, 0x38); // Linux's one-shot clockevent mode
    out(0x40, 10);
    out(0x40, 0);
    const int before = irq0.rising_edges;
    EXPECT_EQ(clock.tick(pit.next_deadline()), 11u);
    advance_ticks(10);
    pit.update(now); // OUT is low for this tick
    EXPECT_FALSE(irq0.level);
    advance_ticks(1);
    pit.update(now);
    EXPECT_EQ(irq0.rising_edges, before + 1);
    EXPECT_EQ(pit.next_deadline(), UINT64_MAX);
}

TEST_F(DevicesPitTest, CountsDownAndLatchesHoldTheValue) {
    out(0x43, 0x30);
    out(0x40, 0x00);
    out(0x40, 0x20); // 0x2000
    advance_ticks(0x100);
    EXPECT_EQ(latched_count(0), 0x1F00);
    out(0x43, 0x00); // latch, then let time pass before reading
    advance_ticks(0x300);
    const uint8_t low = in(0x40);
    EXPECT_EQ(low | in(0x40) << 8, 0x1F00);
    EXPECT_EQ(latched_count(0), 0x1C00); // the latch was released after both bytes
    // Unlatched reads follow the counter byte by byte.
    EXPECT_EQ(in(0x40), 0x00);
    advance_ticks(0x100);
    EXPECT_EQ(in(0x40), 0x1B);
}

TEST_F(DevicesPitTest, ReadBackLatchesStatusThenCount) {
    out(0x43, 0xB3); // channel 2, LSB/MSB, mode 1, BCD
    out(0x42, 0x34);
    out(0x42, 0x12);
    out(0x43, 0xC8); // read-back count and status of channel 2
    // OUT high (mode 1 waits for a trigger), null count (not loaded yet), control bits.
    EXPECT_EQ(in(0x42), 0x80 | 0x40 | 0x33);
    EXPECT_EQ(in(0x42), 0x34);
    EXPECT_EQ(in(0x42), 0x12);
    out(0x43, 0xE8); // status only
    EXPECT_EQ(in(0x42) & 0x3F, 0x33);
}

TEST_F(DevicesPitTest, NullCountClearsOnceTheCountIsLoaded) {
    out(0x43, 0x34);
    out(0x43, 0xE2);
    EXPECT_EQ(in(0x40) & 0x40, 0x40);
    out(0x40, 0xFF);
    out(0x40, 0xFF);
    advance_ticks(2);
    out(0x43, 0xE2);
    EXPECT_EQ(in(0x40), 0x80 | 0x34); // OUT high, loaded, mode 2 LSB/MSB
}

TEST_F(DevicesPitTest, SingleByteAccessModes) {
    out(0x43, 0x10); // channel 0, LSB only, mode 0
    out(0x40, 0x80);
    advance_ticks(0x10);
    EXPECT_EQ(in(0x40), 0x70);
    EXPECT_EQ(in(0x40), 0x70 - 0); // no flip-flop: LSB again
    out(0x43, 0x20);               // MSB only: count 0x0300
    out(0x40, 0x03);
    advance_ticks(0x180);
    EXPECT_EQ(in(0x40), 0x01);
}

TEST_F(DevicesPitTest, ZeroReloadMeans65536) {
    out(0x43, 0x34);
    out(0x40, 0);
    out(0x40, 0);
    EXPECT_EQ(clock.tick(pit.next_deadline()), 65536u);
    advance_ticks(1);
    EXPECT_EQ(latched_count(0), 0xFFFF);
}

TEST_F(DevicesPitTest, ModeThreeIsASquareWave) {
    out(0x43, 0xB6); // channel 2, mode 3 (the PC speaker's mode)
    out(0x42, 100);
    out(0x42, 0);
    out(0x61, 0x01); // gate high starts it
    advance_ticks(10);
    EXPECT_EQ(latched_count(2), 80); // counts down by two
    EXPECT_NE(in(0x61) & 0x20, 0);   // first half: OUT high
    advance_ticks(45);
    EXPECT_EQ(in(0x61) & 0x20, 0); // second half: low
    advance_ticks(45);
    EXPECT_NE(in(0x61) & 0x20, 0); // next period
    out(0x61, 0x00);               // gate low forces OUT high and stops counting
    advance_ticks(60);
    EXPECT_NE(in(0x61) & 0x20, 0);
}

TEST_F(DevicesPitTest, GateSuspendsModeZero) {
    out(0x61, 0x00);
    out(0x43, 0xB0);
    out(0x42, 0x00);
    out(0x42, 0x01); // 256, but the gate is low
    advance_ticks(1000);
    EXPECT_EQ(latched_count(2), 0x100);
    EXPECT_EQ(in(0x61) & 0x20, 0);
    out(0x61, 0x01);
    advance_ticks(200);
    EXPECT_EQ(latched_count(2), 56);
    out(0x61, 0x00);
    advance_ticks(1000);
    EXPECT_EQ(latched_count(2), 56);
    out(0x61, 0x01);
    advance_ticks(56);
    EXPECT_NE(in(0x61) & 0x20, 0); // terminal count reached
}

TEST_F(DevicesPitTest, ModeOneAndFiveAreTriggeredByTheGate) {
    out(0x43, 0xB2); // channel 2 mode 1
    out(0x42, 50);
    out(0x42, 0);
    advance_ticks(100);
    EXPECT_NE(in(0x61) & 0x20, 0); // no trigger yet: OUT high
    out(0x61, 0x01);               // trigger
    advance_ticks(10);
    EXPECT_EQ(in(0x61) & 0x20, 0); // one-shot: low while counting
    EXPECT_EQ(latched_count(2), 40);
    advance_ticks(40);
    EXPECT_NE(in(0x61) & 0x20, 0);

    out(0x43, 0xBA); // mode 5
    out(0x42, 20);
    out(0x42, 0);
    out(0x61, 0x00);
    out(0x61, 0x01); // trigger
    advance_ticks(20);
    EXPECT_EQ(in(0x61) & 0x20, 0); // the one-tick strobe
    advance_ticks(1);
    EXPECT_NE(in(0x61) & 0x20, 0);
}

TEST_F(DevicesPitTest, ModeTwoTakesANewCountAtTheEndOfThePeriod) {
    out(0x43, 0x34);
    out(0x40, 100);
    out(0x40, 0);
    advance_ticks(30);
    out(0x40, 10);
    out(0x40, 0);
    EXPECT_EQ(latched_count(0), 70); // the current period goes on
    EXPECT_EQ(clock.tick(pit.next_deadline()), 100u);
    run_until(clock.tsc_at(100));
    EXPECT_EQ(clock.tick(pit.next_deadline()), 110u);
    advance_ticks(5);
    EXPECT_EQ(latched_count(0), 5);
}

TEST_F(DevicesPitTest, PortBKeepsItsBitsAndToggleRefresh) {
    out(0x61, 0xFF);
    EXPECT_EQ(in(0x61) & 0x0F, 0x0F);
    EXPECT_EQ(in(0x61) & 0xC0, 0);
    int toggles = 0;
    uint8_t last = in(0x61) & 0x10;
    for (int i = 0; i < 100; ++i) {
        advance_ticks(9);
        const uint8_t refresh = in(0x61) & 0x10;
        toggles += refresh != last;
        last = refresh;
    }
    EXPECT_EQ(toggles, 50); // every 18 ticks (15 us)
    EXPECT_EQ(in(0x43), 0xFF);
}

TEST_F(DevicesPitTest, WideAccessesSplitIntoBytes) {
    out(0x61, 0x03);
    // 0x61 is the PIT's, 0x62 is not: it floats high.
    EXPECT_EQ(pit.read(0x61, 2, now) & 0xFF0F, 0xFF03u);
    // A 16-bit write to 0x40 is LSB to channel 0 and LSB to channel 1.
    out(0x43, 0x70); // channel 1, LSB/MSB, mode 0
    pit.write(0x40, 2, 0x2211, now);
    out(0x41, 0x00);
    EXPECT_EQ(latched_count(1), 0x0022);
}

} // namespace
} // namespace halcyon::worker
