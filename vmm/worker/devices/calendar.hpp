// Calendar arithmetic for the RTC: seconds since 1970-01-01T00:00:00 (UTC, no leap seconds)
// to a proleptic Gregorian date and time, and back. Years 1-9999.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

struct CivilTime {
    int32_t year = 1970;
    uint8_t month = 1; // 1-12
    uint8_t day = 1;   // 1-31
    uint8_t hour = 0;
    uint8_t minute = 0;
    uint8_t second = 0;
    uint8_t weekday = 4; // 0 = Sunday (1970-01-01 was a Thursday)
};

// Days since 1970-01-01 of a date; a day past the end of its month counts on into the next
// month (April 31 is May 1), which is what a guest writing the RTC field by field expects.
[[nodiscard]] int64_t days_from_date(int32_t year, unsigned month, unsigned day);
// 0 = Sunday.
[[nodiscard]] uint8_t weekday_of(int32_t year, unsigned month, unsigned day);
[[nodiscard]] CivilTime civil_from_seconds(int64_t seconds);
[[nodiscard]] int64_t seconds_from_civil(const CivilTime& time);
[[nodiscard]] bool is_leap_year(int32_t year);

} // namespace halcyon::worker
