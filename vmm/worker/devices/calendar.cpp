#include "vmm/worker/devices/calendar.hpp"

namespace halcyon::worker {
namespace {

// Counting days from 0001-01-01 (day 1) makes the 400/100/4-year structure of the Gregorian
// calendar plain divisions.
constexpr int64_t kDaysIn400Years = 146097;
constexpr int64_t kDaysIn100Years = 36524; // a century whose last year is not leap
constexpr int64_t kDaysIn4Years = 1461;
constexpr int64_t kEpochOrdinal = 719163; // 1970-01-01
constexpr int64_t kSecondsPerDay = 86400;
constexpr uint16_t kDaysBeforeMonth[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

int64_t ordinal(int32_t year, unsigned month, unsigned day) {
    const int64_t y = year - 1;
    const int64_t leap_day = month > 2 && is_leap_year(year) ? 1 : 0;
    return 365 * y + y / 4 - y / 100 + y / 400 + kDaysBeforeMonth[month - 1] + leap_day + day;
}

int64_t floor_divide(int64_t value, int64_t divisor) {
    const int64_t quotient = value / divisor;
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

uint8_t weekday_from_days(int64_t days) {
    const int64_t weekday = (days + 4) % 7; // day 0 was a Thursday
    return static_cast<uint8_t>(weekday < 0 ? weekday + 7 : weekday);
}

} // namespace

uint8_t weekday_of(int32_t year, unsigned month, unsigned day) {
    return weekday_from_days(days_from_date(year, month, day));
}

bool is_leap_year(int32_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int64_t days_from_date(int32_t year, unsigned month, unsigned day) {
    if (month < 1)
        month = 1;
    if (month > 12)
        month = 12;
    return ordinal(year, month, day) - kEpochOrdinal;
}

CivilTime civil_from_seconds(int64_t seconds) {
    const int64_t min_days = 1 - kEpochOrdinal; // 0001-01-01
    int64_t days = floor_divide(seconds, kSecondsPerDay);
    int64_t in_day = seconds - days * kSecondsPerDay;
    if (days < min_days) {
        days = min_days;
        in_day = 0;
    }

    CivilTime time;
    time.hour = static_cast<uint8_t>(in_day / 3600);
    time.minute = static_cast<uint8_t>(in_day / 60 % 60);
    time.second = static_cast<uint8_t>(in_day % 60);
    time.weekday = weekday_from_days(days);

    int64_t rest = days + kEpochOrdinal - 1; // days since 0001-01-01
    const int64_t cycles400 = rest / kDaysIn400Years;
    rest %= kDaysIn400Years;
    const int64_t centuries = rest / kDaysIn100Years;
    rest %= kDaysIn100Years;
    const int64_t cycles4 = rest / kDaysIn4Years;
    rest %= kDaysIn4Years;
    const int64_t years = rest / 365;
    rest %= 365;
    int64_t year = cycles400 * 400 + centuries * 100 + cycles4 * 4 + years + 1;
    if (years == 4 || centuries == 4) {
        // The extra day of a leap year / leap century: December 31 of the year before.
        time.year = static_cast<int32_t>(year - 1);
        time.month = 12;
        time.day = 31;
        return time;
    }
    time.year = static_cast<int32_t>(year);
    const bool leap = is_leap_year(time.year);
    unsigned month = 12;
    while (month > 1) {
        const int64_t before = kDaysBeforeMonth[month - 1] + (month > 2 && leap ? 1 : 0);
        if (rest >= before) {
            rest -= before;
            break;
        }
        --month;
    }
    time.month = static_cast<uint8_t>(month);
    time.day = static_cast<uint8_t>(rest + 1);
    return time;
}

int64_t seconds_from_civil(const CivilTime& time) {
    return days_from_date(time.year, time.month, time.day) * kSecondsPerDay + time.hour * 3600 +
           time.minute * 60 + time.second;
}

} // namespace halcyon::worker
