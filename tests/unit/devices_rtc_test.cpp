#include "devices_test_support.hpp"
#include "vmm/worker/devices/calendar.hpp"
#include "vmm/worker/devices/cmos_rtc.hpp"

#include <gtest/gtest.h>

#include <ctime>

namespace halcyon::worker {
namespace {

using testing::kTscHz;

constexpr int64_t k2026 = 1'767'225'600; // 2026-01-01 00:00:00, a Thursday
constexpr uint64_t kStart = 777'000'000'000;

class DevicesRtcTest : public ::testing::Test {
protected:
    uint8_t cmos(uint8_t index) {
        rtc.write(0x70, 1, index, now);
        return static_cast<uint8_t>(rtc.read(0x71, 1, now));
    }
    void set_cmos(uint8_t index, uint8_t value) {
        rtc.write(0x70, 1, index, now);
        rtc.write(0x71, 1, value, now);
    }
    void advance_seconds(uint64_t seconds) { now += seconds * kTscHz; }

    uint64_t now = kStart;
    CmosRtc rtc{kTscHz, kStart, k2026};
};

TEST(DevicesCalendarTest, KnownDates) {
    const CivilTime epoch = civil_from_seconds(0);
    EXPECT_EQ(epoch.year, 1970);
    EXPECT_EQ(epoch.weekday, 4);
    const CivilTime leap = civil_from_seconds(951'782'400);
    EXPECT_EQ(leap.year, 2000);
    EXPECT_EQ(leap.month, 2);
    EXPECT_EQ(leap.day, 29);
    EXPECT_EQ(leap.weekday, 2);
    const CivilTime past = civil_from_seconds(-2'203'891'200);
    EXPECT_EQ(past.year, 1900);
    EXPECT_EQ(past.month, 3);
    EXPECT_EQ(past.day, 1);
    EXPECT_EQ(past.weekday, 4);
    EXPECT_EQ(days_from_date(2026, 4, 31), days_from_date(2026, 5, 1));
    EXPECT_EQ(weekday_of(2100, 1, 1), 5);
}

TEST(DevicesCalendarTest, RoundTripsAgainstTheCLibrary) {
    // Every day from 1901 to 2200 at a varying time of day, checked against gmtime_r.
    for (int64_t seconds = -2'147'483'648 + 86'400; seconds < 7'258'118'400;
         seconds += 86'400 + 3'607) {
        const CivilTime civil = civil_from_seconds(seconds);
        const time_t as_time = static_cast<time_t>(seconds);
        tm expected{};
        ASSERT_NE(gmtime_r(&as_time, &expected), nullptr);
        ASSERT_EQ(civil.year, expected.tm_year + 1900) << seconds;
        ASSERT_EQ(civil.month, expected.tm_mon + 1) << seconds;
        ASSERT_EQ(civil.day, expected.tm_mday) << seconds;
        ASSERT_EQ(civil.hour, expected.tm_hour) << seconds;
        ASSERT_EQ(civil.minute, expected.tm_min) << seconds;
        ASSERT_EQ(civil.second, expected.tm_sec) << seconds;
        ASSERT_EQ(civil.weekday, expected.tm_wday) << seconds;
        ASSERT_EQ(seconds_from_civil(civil), seconds);
    }
}

TEST_F(DevicesRtcTest, ReadsTheStartTimeInBcd24Hour) {
    EXPECT_EQ(cmos(0x00), 0x00);
    EXPECT_EQ(cmos(0x02), 0x00);
    EXPECT_EQ(cmos(0x04), 0x00);
    EXPECT_EQ(cmos(0x06), 0x05); // Thursday (1 = Sunday)
    EXPECT_EQ(cmos(0x07), 0x01);
    EXPECT_EQ(cmos(0x08), 0x01);
    EXPECT_EQ(cmos(0x09), 0x26);
    EXPECT_EQ(cmos(0x32), 0x20);
    EXPECT_EQ(cmos(0x0A), 0x26);
    EXPECT_EQ(cmos(0x0B), 0x02);
    EXPECT_EQ(cmos(0x0D), 0x80);
}

TEST_F(DevicesRtcTest, TimeAdvancesWithTheTsc) {
    advance_seconds(13 * 3600 + 45 * 60 + 30);
    now += kTscHz / 2; // half a second more changes nothing visible
    EXPECT_EQ(cmos(0x00), 0x30);
    EXPECT_EQ(cmos(0x02), 0x45);
    EXPECT_EQ(cmos(0x04), 0x13);
    EXPECT_EQ(rtc.epoch_seconds(now), k2026 + 13 * 3600 + 45 * 60 + 30);
}

TEST_F(DevicesRtcTest, BinaryAnd12HourFormats) {
    advance_seconds(13 * 3600 + 45 * 60 + 30);
    set_cmos(0x0B, 0x06); // binary, 24 h
    EXPECT_EQ(cmos(0x00), 30);
    EXPECT_EQ(cmos(0x04), 13);
    EXPECT_EQ(cmos(0x09), 26);
    EXPECT_EQ(cmos(0x32), 20);
    set_cmos(0x0B, 0x04); // binary, 12 h
    EXPECT_EQ(cmos(0x04), 0x80 | 1);
    set_cmos(0x0B, 0x00); // BCD, 12 h
    EXPECT_EQ(cmos(0x04), 0x81);
    advance_seconds(10 * 3600 + 15 * 60); // 00:00:30 next day: 12 AM
    EXPECT_EQ(cmos(0x04), 0x12);
    EXPECT_EQ(cmos(0x07), 0x02);
}

TEST_F(DevicesRtcTest, RollsOverMonthsLeapDaysAndCenturies) {
    CmosRtc leap(kTscHz, kStart, 1'709'164'800 - 1); // 2024-02-28 23:59:59
    leap.write(0x70, 1, 0x07, kStart);
    EXPECT_EQ(leap.read(0x71, 1, kStart), 0x28u);
    leap.write(0x70, 1, 0x07, kStart + kTscHz);
    EXPECT_EQ(leap.read(0x71, 1, kStart + kTscHz), 0x29u);
    leap.write(0x70, 1, 0x08, kStart + kTscHz);
    EXPECT_EQ(leap.read(0x71, 1, kStart + kTscHz), 0x02u);

    CmosRtc century(kTscHz, kStart, 4'102'444'800 - 1); // 2099-12-31 23:59:59
    const uint64_t later = kStart + kTscHz;
    const uint8_t expected[][2] = {{0x00, 0x00}, {0x02, 0x00}, {0x04, 0x00}, {0x06, 0x06},
                                   {0x07, 0x01}, {0x08, 0x01}, {0x09, 0x00}, {0x32, 0x21}};
    for (const auto& [index, value] : expected) {
        century.write(0x70, 1, index, later);
        EXPECT_EQ(century.read(0x71, 1, later), value) << int(index);
    }
}

TEST_F(DevicesRtcTest, UpdateInProgressOnlyInTheLast244Microseconds) {
    now = kStart + kTscHz - kTscHz / 4096 - 1;
    EXPECT_EQ(cmos(0x0A) & 0x80, 0);
    now += 2;
    EXPECT_EQ(cmos(0x0A) & 0x80, 0x80);
    now = kStart + kTscHz; // the update happened
    EXPECT_EQ(cmos(0x0A) & 0x80, 0);
    EXPECT_EQ(cmos(0x00), 0x01);
    // A guest waiting for UIP to clear, polling every 2 us from inside the window, waits less
    // than 250 us; and it is never set for two consecutive polls a whole second apart.
    now = kStart + 2 * kTscHz - kTscHz / 8192;
    int polls = 0;
    while (cmos(0x0A) & 0x80) {
        now += kTscHz / 500'000;
        ASSERT_LT(++polls, 125);
    }
    EXPECT_GT(polls, 0);
    set_cmos(0x0B, 0x82); // SET: no updates, no UIP
    now = kStart + 3 * kTscHz - 10;
    EXPECT_EQ(cmos(0x0A) & 0x80, 0);
}

TEST_F(DevicesRtcTest, RegisterCReportsAnUpdateOnceAndClearsOnRead) {
    EXPECT_EQ(cmos(0x0C), 0x00);
    advance_seconds(1);
    EXPECT_EQ(cmos(0x0C), 0x10);
    EXPECT_EQ(cmos(0x0C), 0x00);
    set_cmos(0x0B, 0x12); // UIE: IRQF would be set alongside (no interrupt is raised)
    advance_seconds(3);
    EXPECT_EQ(cmos(0x0C), 0x90);
    set_cmos(0x0C, 0xFF); // read-only
    set_cmos(0x0D, 0x00);
    EXPECT_EQ(cmos(0x0D), 0x80);
}

TEST_F(DevicesRtcTest, SettingTheClockWithSet) {
    now += kTscHz / 3;
    set_cmos(0x0B, 0x82); // SET, 24 h, BCD
    advance_seconds(5);   // the clock is held meanwhile
    // Going from April to May 31 through "April 31", which must not be normalised on the way.
    set_cmos(0x00, 0x56);
    set_cmos(0x02, 0x34);
    set_cmos(0x04, 0x12);
    set_cmos(0x08, 0x04);
    set_cmos(0x07, 0x31);
    set_cmos(0x08, 0x05);
    set_cmos(0x09, 0x31);
    set_cmos(0x32, 0x20);
    EXPECT_EQ(cmos(0x07), 0x31);
    EXPECT_EQ(cmos(0x00), 0x56);          // held
    set_cmos(0x0B, 0x02);                 // run
    const int64_t set_to = 1'937'997'296; // 2031-05-31 12:34:56
    EXPECT_EQ(rtc.epoch_seconds(now), set_to);
    advance_seconds(1);
    EXPECT_EQ(cmos(0x00), 0x57);
    EXPECT_EQ(cmos(0x06), 0x07); // a Saturday
}

TEST_F(DevicesRtcTest, WritingWithoutSetMovesTheRunningClockKeepingThePhase) {
    now += kTscHz * 3 / 4;
    set_cmos(0x0B, 0x06); // binary
    set_cmos(0x04, 20);
    EXPECT_EQ(rtc.epoch_seconds(now), k2026 + 20 * 3600);
    now += kTscHz / 4; // the second boundary has not moved
    EXPECT_EQ(rtc.epoch_seconds(now), k2026 + 20 * 3600 + 1);
    set_cmos(0x0B, 0x04); // 12-hour binary: 9 PM
    set_cmos(0x04, 0x80 | 9);
    EXPECT_EQ(rtc.epoch_seconds(now), k2026 + 21 * 3600 + 1);
    set_cmos(0x06, 1); // the weekday is derived
    EXPECT_EQ(rtc.epoch_seconds(now), k2026 + 21 * 3600 + 1);
}

TEST_F(DevicesRtcTest, NvramAndAlarmBytesAreStorage) {
    for (unsigned index = 0x0E; index < 0x80; ++index) {
        if (index == 0x32)
            continue;
        EXPECT_EQ(cmos(static_cast<uint8_t>(index)), 0) << index;
        set_cmos(static_cast<uint8_t>(index), static_cast<uint8_t>(index ^ 0xA5));
    }
    EXPECT_EQ(cmos(0x40), 0x40 ^ 0xA5);
    EXPECT_EQ(cmos(0x80 | 0x40), 0x40 ^ 0xA5); // bit 7 is the NMI mask, not the index
    set_cmos(0x01, 0x59);                      // alarm seconds
    EXPECT_EQ(cmos(0x01), 0x59);
    EXPECT_EQ(rtc.read(0x70, 1, now), 0xFFu);
}

} // namespace
} // namespace halcyon::worker
