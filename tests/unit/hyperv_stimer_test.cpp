// Synthetic timers (vmm/hyperv/synthetic_timer.hpp) and their delivery through the SynIC
// (vp_synic.hpp), TLFS "Timers": CONFIG/COUNT semantics, one-shot, periodic (missed periods,
// lazy), auto-enable, direct mode, message mode (HvMessageTimerExpired, busy slots, EOM), the
// next deadline; and ReferenceClock::tsc_at, which turns that deadline into a TSC.
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/reference_clock.hpp"
#include "vmm/hyperv/synthetic_timer.hpp"
#include "vmm/hyperv/tlfs.hpp"
#include "vmm/hyperv/vp_synic.hpp"

#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace halcyon::vmm::hyperv {
namespace {

constexpr uint64_t kNever = SyntheticTimer::kNever;
constexpr uint64_t kEnable = kStimerEnable;
constexpr uint64_t kPeriodic = kStimerPeriodic;
constexpr uint64_t kLazy = kStimerLazy;
constexpr uint64_t kAuto = kStimerAutoEnable;
constexpr uint64_t kDirect = kStimerDirectMode;

constexpr uint64_t sint(uint64_t n) {
    return n << 16;
}
constexpr uint64_t vector(uint64_t v) {
    return v << 4;
}

// --- the timer alone ---

TEST(SyntheticTimer, ResetState) {
    SyntheticTimer timer(2);
    EXPECT_EQ(timer.index(), 2);
    EXPECT_EQ(timer.config(), 0u);
    EXPECT_EQ(timer.count(), 0u);
    EXPECT_FALSE(timer.enabled());
    EXPECT_EQ(timer.deadline(), kNever);
    EXPECT_FALSE(timer.expire(12345));
}

TEST(SyntheticTimer, ConfigReservedBitsAndDirectVectorsAreGp) {
    SyntheticTimer timer;
    for (unsigned bit : {13u, 14u, 15u, 20u, 32u, 63u})
        EXPECT_FALSE(timer.write_config(uint64_t{1} << bit, 0)) << bit;
    EXPECT_FALSE(timer.write_config(kDirect | vector(15), 0)) << "exception vector";
    EXPECT_FALSE(timer.write_config(kDirect, 0)) << "vector 0";
    EXPECT_EQ(timer.config(), 0u) << "nothing changed";
    EXPECT_TRUE(timer.write_config(kDirect | vector(16), 0));
    EXPECT_TRUE(timer.write_config(vector(5), 0)) << "the vector field is ignored outside direct";
    const uint64_t all = kEnable | kPeriodic | kLazy | kAuto | vector(0xED) | kDirect | sint(15);
    EXPECT_TRUE(timer.write_config(all, 0));
    EXPECT_EQ(timer.config(), all & ~kEnable) << "kept; enable cleared (count is 0)";
}

TEST(SyntheticTimer, OneShotFiresAtTheAbsoluteCountOnce) {
    SyntheticTimer timer;
    timer.write_count(5000, 100);
    ASSERT_TRUE(timer.write_config(kEnable | sint(3), 100));
    EXPECT_TRUE(timer.enabled());
    EXPECT_EQ(timer.deadline(), 5000u);
    EXPECT_FALSE(timer.expire(4999)) << "never early";
    EXPECT_TRUE(timer.expire(5000));
    EXPECT_TRUE(timer.signal_pending());
    EXPECT_EQ(timer.signal_expiration(), 5000u);
    EXPECT_EQ(timer.deadline(), kNever) << "waits for delivery, not for time";
    EXPECT_TRUE(timer.expire(6000)) << "still the same signal";
    EXPECT_EQ(timer.signal_expiration(), 5000u);
    timer.signal_delivered();
    EXPECT_FALSE(timer.enabled()) << "TLFS: an expired one-shot timer is disabled";
    EXPECT_EQ(timer.config(), sint(3));
    EXPECT_FALSE(timer.expire(100000));
    EXPECT_EQ(timer.count(), 5000u) << "COUNT reads what was written";
}

TEST(SyntheticTimer, OneShotInThePastExpiresAtOnce) {
    SyntheticTimer timer;
    timer.write_count(50, 1000);
    ASSERT_TRUE(timer.write_config(kEnable | sint(1), 1000));
    EXPECT_EQ(timer.deadline(), 50u);
    EXPECT_TRUE(timer.expire(1000));
    EXPECT_EQ(timer.signal_expiration(), 50u);
}

TEST(SyntheticTimer, AutoEnableAndZeroCount) {
    SyntheticTimer timer;
    ASSERT_TRUE(timer.write_config(kAuto | kEnable | kDirect | vector(0xED), 0));
    EXPECT_FALSE(timer.enabled()) << "enabled without a count: disabled at once";
    timer.write_count(700, 10);
    EXPECT_TRUE(timer.enabled()) << "auto-enable: a non-zero count enables";
    EXPECT_EQ(timer.deadline(), 700u);
    timer.write_count(900, 20);
    EXPECT_EQ(timer.deadline(), 900u) << "re-armed, as Linux's set_next_event expects";
    timer.write_count(0, 30);
    EXPECT_FALSE(timer.enabled()) << "zero count stops it whatever auto-enable says";
    EXPECT_EQ(timer.deadline(), kNever);

    SyntheticTimer manual;
    ASSERT_TRUE(manual.write_config(kDirect | vector(0x40), 0));
    manual.write_count(500, 0);
    EXPECT_FALSE(manual.enabled()) << "no auto-enable: the count alone does not start it";
    ASSERT_TRUE(manual.write_config(kEnable | kDirect | vector(0x40), 10));
    EXPECT_EQ(manual.deadline(), 500u);
}

TEST(SyntheticTimer, MessageModeNeedsASint) {
    SyntheticTimer timer;
    timer.write_count(100, 0);
    ASSERT_TRUE(timer.write_config(kEnable | sint(0), 0));
    EXPECT_FALSE(timer.enabled()) << "TLFS: SINT 0 disables an enabled message-mode timer";
    ASSERT_TRUE(timer.write_config(kEnable | kDirect | vector(0x30), 0));
    EXPECT_TRUE(timer.enabled()) << "direct mode needs no SINT";
}

TEST(SyntheticTimer, PeriodicStartsWhenEnabledAndFollowsTheGrid) {
    SyntheticTimer timer;
    timer.write_count(1000, 0); // period
    ASSERT_TRUE(timer.write_config(kEnable | kPeriodic | sint(2), 250));
    EXPECT_EQ(timer.deadline(), 1250u) << "first period begins at enable";
    std::vector<uint64_t> expirations;
    uint64_t now = 1250;
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(timer.expire(now));
        expirations.push_back(timer.signal_expiration());
        timer.signal_delivered();
        EXPECT_TRUE(timer.enabled()) << "periodic timers stay enabled";
        now = timer.deadline() + 37; // delivered a little late each time
    }
    EXPECT_EQ(expirations, (std::vector<uint64_t>{1250, 2250, 3250, 4250, 5250}))
        << "no drift: the grid, not the delivery times";
}

TEST(SyntheticTimer, CountWriteWhileEnabledRestartsThePeriod) {
    SyntheticTimer timer;
    timer.write_count(1000, 0);
    ASSERT_TRUE(timer.write_config(kEnable | kPeriodic | kDirect | vector(0x40), 0));
    timer.write_count(300, 5000);
    EXPECT_EQ(timer.deadline(), 5300u);
}

TEST(SyntheticTimer, MissedPeriodsCatchUpThenSkip) {
    SyntheticTimer timer;
    timer.write_count(100, 0);
    ASSERT_TRUE(timer.write_config(kEnable | kPeriodic | kDirect | vector(0x40), 0));
    // Two periods late (expirations 100, 200 and 300 have passed at 330): period modulation,
    // one signal after the other.
    std::vector<uint64_t> signals;
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(timer.expire(330));
        signals.push_back(timer.signal_expiration());
        timer.signal_delivered();
    }
    EXPECT_EQ(signals, (std::vector<uint64_t>{100, 200, 300}));
    EXPECT_FALSE(timer.expire(330));
    EXPECT_EQ(timer.deadline(), 400u);

    // Far behind (more than kMaxCatchUpPeriods): the missed ones are skipped, the latest
    // expiration is signalled and the grid continues after it.
    ASSERT_TRUE(timer.expire(400 + 100 * 50 + 10));
    EXPECT_EQ(timer.signal_expiration(), 400u + 100 * 50);
    timer.signal_delivered();
    EXPECT_EQ(timer.deadline(), 400u + 100 * 51);
}

TEST(SyntheticTimer, LazyTimersNeverCatchUp) {
    SyntheticTimer timer;
    timer.write_count(1000, 0);
    ASSERT_TRUE(timer.write_config(kEnable | kPeriodic | kLazy | sint(2), 0));
    // Seen at 3500: 1000, 2000, 3000 passed -> one signal, for 3000.
    ASSERT_TRUE(timer.expire(3500));
    EXPECT_EQ(timer.signal_expiration(), 3000u);
    timer.signal_delivered();
    EXPECT_EQ(timer.deadline(), 4000u);
    // Seen at 5950, just before 6000 is due: 5000 is skipped entirely (TLFS).
    EXPECT_FALSE(timer.expire(5950));
    EXPECT_EQ(timer.deadline(), 6000u);
    ASSERT_TRUE(timer.expire(6000));
    EXPECT_EQ(timer.signal_expiration(), 6000u);
}

TEST(SyntheticTimer, ConfigWriteDropsAPendingSignal) {
    SyntheticTimer timer;
    timer.write_count(10, 0);
    ASSERT_TRUE(timer.write_config(kEnable | sint(1), 0));
    ASSERT_TRUE(timer.expire(20));
    ASSERT_TRUE(timer.write_config(0, 20));
    EXPECT_FALSE(timer.signal_pending());
    EXPECT_EQ(timer.deadline(), kNever);
}

TEST(SyntheticTimer, HugePeriodsSaturateInsteadOfWrapping) {
    SyntheticTimer timer;
    timer.write_count(~uint64_t{0} - 5, 0);
    ASSERT_TRUE(timer.write_config(kEnable | kPeriodic | kDirect | vector(0x40), 100));
    EXPECT_GT(timer.deadline(), 100u);
    EXPECT_FALSE(timer.expire(1'000'000'000'000));
}

// --- delivery through the SynIC ---

constexpr uint64_t kSimp = 0x10000;
constexpr uint8_t kSintVector = 0x51;

class StimerDelivery : public ::testing::Test {
protected:
    bool write(uint32_t msr, uint64_t value, uint64_t now = 0) {
        return vp.write_msr(msr, value, now, ram, raise);
    }
    void enable_synic() {
        ASSERT_TRUE(write(msr::kSimp, kSimp | 1));
        ASSERT_TRUE(write(msr::kSint0 + 3, kSintVector));
        ASSERT_TRUE(write(msr::kScontrol, 1));
    }
    uint32_t slot_type() { return ram.load<uint32_t>(kSimp + 3 * 256); }
    uint64_t payload64(uint32_t offset) {
        return ram.load<uint64_t>(kSimp + 3 * 256 + 16 + offset);
    }
    uint32_t timer_index() { return ram.load<uint32_t>(kSimp + 3 * 256 + 16); }

    VpSynic vp;
    test::FakeGuestRam ram{test::kTestRamSize};
    InterruptVectors raise;
};

TEST_F(StimerDelivery, DirectModeAssertsTheVectorWithoutASynic) {
    // Linux's clockevent: config enable | auto-enable | direct | vector 0xED, then COUNT =
    // now + delta. The SynIC stays disabled (VMBus is not loaded).
    ASSERT_TRUE(write(msr::kStimer0Config, kEnable | kAuto | kDirect | vector(0xED), 100));
    ASSERT_TRUE(write(msr::kStimer0Count, 600, 100));
    EXPECT_EQ(vp.next_deadline(), 600u);
    vp.update(599, ram, raise);
    EXPECT_TRUE(raise.empty());
    vp.update(600, ram, raise);
    EXPECT_TRUE(raise.contains(0xED));
    EXPECT_EQ(raise.size(), 1u);
    EXPECT_EQ(vp.next_deadline(), kNever);
    uint64_t config = 0;
    ASSERT_TRUE(vp.read_msr(msr::kStimer0Config, config));
    EXPECT_EQ(config & kEnable, 0u) << "one-shot: disabled after it fired";
    // The next set_next_event re-enables it.
    raise = {};
    ASSERT_TRUE(write(msr::kStimer0Count, 900, 650));
    EXPECT_EQ(vp.next_deadline(), 900u);
}

TEST_F(StimerDelivery, ACountInThePastFiresInTheMsrWrite) {
    ASSERT_TRUE(write(msr::kStimer0Config, kAuto | kDirect | vector(0xED), 100));
    ASSERT_TRUE(write(msr::kStimer0Count, 90, 100));
    EXPECT_TRUE(raise.contains(0xED));
}

TEST_F(StimerDelivery, MessageModeWritesHvMessageTimerExpired) {
    enable_synic();
    raise = {};
    ASSERT_TRUE(write(msr::kStimer0Config + 4, kEnable | kAuto | sint(3), 0)); // STIMER2
    ASSERT_TRUE(write(msr::kStimer0Count + 4, 1000, 0));
    vp.update(1003, ram, raise);
    EXPECT_EQ(slot_type(), kMessageTimerExpired);
    EXPECT_EQ(ram.load<uint8_t>(kSimp + 3 * 256 + 4), 24u) << "payload size";
    EXPECT_EQ(ram.load<uint64_t>(kSimp + 3 * 256 + 8), 0u) << "timers have no origin";
    EXPECT_EQ(timer_index(), 2u);
    EXPECT_EQ(ram.load<uint32_t>(kSimp + 3 * 256 + 20), 0u) << "reserved";
    EXPECT_EQ(payload64(8), 1000u) << "expiration time";
    EXPECT_EQ(payload64(16), 1003u) << "delivery time";
    EXPECT_TRUE(raise.contains(kSintVector));
}

TEST_F(StimerDelivery, BusySlotDefersTheTimerMessageUntilEom) {
    enable_synic();
    const uint8_t host_payload[1] = {9};
    ASSERT_EQ(vp.post_message(3, 0x77, host_payload, ram, raise), DeliveryResult::delivered);
    raise = {};
    ASSERT_TRUE(write(msr::kStimer0Count, 500, 0)); // the period first, then enable
    ASSERT_TRUE(write(msr::kStimer0Config, kEnable | kPeriodic | sint(3), 0));
    vp.update(500, ram, raise);
    EXPECT_EQ(slot_type(), 0x77u) << "the host message stays";
    EXPECT_TRUE(ram.load<uint8_t>(kSimp + 3 * 256 + 5) & 1) << "MessagePending asks for EOM";
    EXPECT_TRUE(raise.empty());
    EXPECT_EQ(vp.next_deadline(), kNever) << "no time-based retries while it waits";
    vp.update(1700, ram, raise); // time passes: still one signal, nothing new
    EXPECT_EQ(slot_type(), 0x77u);
    // The guest handles the slot and writes EOM: the timer message arrives, for the
    // expiration it stands for, delivered now.
    ram.store<uint32_t>(kSimp + 3 * 256, 0);
    ASSERT_TRUE(write(msr::kEom, 0, 1800));
    EXPECT_EQ(slot_type(), kMessageTimerExpired);
    EXPECT_EQ(payload64(8), 500u);
    EXPECT_EQ(payload64(16), 1800u);
    EXPECT_TRUE(raise.contains(kSintVector));
    // 1000 and 1500 were missed: caught up one by one (not lazy, 2 periods behind).
    EXPECT_EQ(vp.next_deadline(), 1000u);
}

TEST_F(StimerDelivery, TimerMessageWaitsForTheSynicToBeEnabled) {
    ASSERT_TRUE(write(msr::kStimer0Count, 100, 0));
    ASSERT_TRUE(write(msr::kStimer0Config, kEnable | sint(3), 0));
    vp.update(200, ram, raise);
    EXPECT_TRUE(vp.timer(0).signal_pending()) << "no SynIC: the signal waits";
    EXPECT_TRUE(raise.empty());
    enable_synic(); // SCONTROL is written last: the message goes then
    EXPECT_EQ(slot_type(), kMessageTimerExpired);
    EXPECT_FALSE(vp.timer(0).signal_pending());
    EXPECT_TRUE(raise.contains(kSintVector));
}

TEST_F(StimerDelivery, TimerMessagesToTheSameSlotChainThroughMessagePending) {
    enable_synic();
    raise = {};
    ASSERT_TRUE(write(msr::kStimer0Count, 100, 0));
    ASSERT_TRUE(write(msr::kStimer0Config, kEnable | sint(3), 0));
    ASSERT_TRUE(write(msr::kStimer0Count + 2, 100, 0)); // STIMER1
    ASSERT_TRUE(write(msr::kStimer0Config + 2, kEnable | sint(3), 0));
    vp.update(100, ram, raise);
    EXPECT_EQ(timer_index(), 0u);
    EXPECT_TRUE(ram.load<uint8_t>(kSimp + 3 * 256 + 5) & 1) << "STIMER1 waits: EOM needed";
    ram.store<uint32_t>(kSimp + 3 * 256, 0);
    ASSERT_TRUE(write(msr::kEom, 0, 110));
    EXPECT_EQ(slot_type(), kMessageTimerExpired);
    EXPECT_EQ(timer_index(), 1u);
    EXPECT_FALSE(ram.load<uint8_t>(kSimp + 3 * 256 + 5) & 1);
}

TEST_F(StimerDelivery, TimerMessagesGoBeforeQueuedHostMessagesOnEom) {
    enable_synic();
    const uint8_t payload[1] = {1};
    ASSERT_EQ(vp.post_message(3, 0x10, payload, ram, raise), DeliveryResult::delivered);
    ASSERT_EQ(vp.post_message(3, 0x11, payload, ram, raise), DeliveryResult::queued);
    ASSERT_TRUE(write(msr::kStimer0Count, 100, 0));
    ASSERT_TRUE(write(msr::kStimer0Config, kEnable | sint(3), 0));
    vp.update(100, ram, raise);
    ram.store<uint32_t>(kSimp + 3 * 256, 0);
    ASSERT_TRUE(write(msr::kEom, 0, 120));
    EXPECT_EQ(slot_type(), kMessageTimerExpired);
    EXPECT_TRUE(ram.load<uint8_t>(kSimp + 3 * 256 + 5) & 1) << "the host message waits";
    ram.store<uint32_t>(kSimp + 3 * 256, 0);
    ASSERT_TRUE(write(msr::kEom, 0, 130));
    EXPECT_EQ(slot_type(), 0x11u);
}

TEST_F(StimerDelivery, NextDeadlineIsTheEarliestTimer) {
    EXPECT_EQ(vp.next_deadline(), kNever);
    ASSERT_TRUE(write(msr::kStimer0Config + 6, kAuto | kDirect | vector(0x40), 0)); // STIMER3
    ASSERT_TRUE(write(msr::kStimer0Count + 6, 9000, 0));
    ASSERT_TRUE(write(msr::kStimer0Config + 2, kAuto | kDirect | vector(0x41), 0)); // STIMER1
    ASSERT_TRUE(write(msr::kStimer0Count + 2, 4000, 0));
    EXPECT_EQ(vp.next_deadline(), 4000u);
    vp.update(4000, ram, raise);
    EXPECT_EQ(vp.next_deadline(), 9000u);
    EXPECT_TRUE(raise.contains(0x41));
    EXPECT_FALSE(raise.contains(0x40));
}

TEST_F(StimerDelivery, MsrRoundTripAndGp) {
    uint64_t value = 0;
    ASSERT_TRUE(write(msr::kStimer3Count, 12345, 0));
    ASSERT_TRUE(vp.read_msr(msr::kStimer3Count, value));
    EXPECT_EQ(value, 12345u);
    EXPECT_FALSE(write(msr::kStimer0Config + 6, uint64_t{1} << 40, 0)) << "RsvdZ";
    ASSERT_TRUE(vp.read_msr(msr::kStimer0Config + 6, value));
    EXPECT_EQ(value, 0u);
}

// --- reference time -> TSC ---

TEST(ReferenceClockTscAt, InvertsTimeAtWithoutEverBeingEarly) {
    for (uint64_t hz : {2'500'000'000ull, 2'601'884'000ull, 3'000'000'001ull, 10'000'001ull,
                        8'000'000ull, 1'000'000ull}) {
        const ReferenceClock clock(hz, test::kTestCreationTsc);
        std::mt19937_64 random(hz);
        for (int i = 0; i < 2000; ++i) {
            const uint64_t reference = i < 10 ? static_cast<uint64_t>(i) : random() % (1ull << 40);
            const uint64_t tsc = clock.tsc_at(reference);
            ASSERT_GE(clock.time_at(tsc), reference) << hz << " " << reference;
            // At most about one reference unit late: two steps back are before the time.
            const uint64_t step = hz / kReferenceHz + 1;
            if (reference >= 1000)
                ASSERT_LT(clock.time_at(tsc - 2 * step), reference) << hz << " " << reference;
        }
        EXPECT_EQ(clock.tsc_at(kNoReferenceTime), kNoTscDeadline);
        if (hz > 100'000'000)
            EXPECT_EQ(clock.tsc_at(~uint64_t{0} - 1), kNoTscDeadline) << "beyond the TSC's range";
    }
}

TEST(ReferenceClockTscAt, ZeroIsCreation) {
    const ReferenceClock clock(test::kTestTscHz, test::kTestCreationTsc);
    EXPECT_GE(clock.tsc_at(0), test::kTestCreationTsc);
    EXPECT_LE(clock.tsc_at(0), test::kTestCreationTsc + 2 * (test::kTestTscHz / kReferenceHz));
    // One second of reference time is tsc_hz ticks.
    const uint64_t one_second = clock.tsc_at(kReferenceHz) - clock.tsc_at(0);
    EXPECT_NEAR(static_cast<double>(one_second), static_cast<double>(test::kTestTscHz), 300.0);
}

} // namespace
} // namespace halcyon::vmm::hyperv
