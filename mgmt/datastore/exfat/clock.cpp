// Calendar arithmetic for timestamps. Deliberately simple (a loop over years and months): it
// runs once per metadata update, and the exFAT range is only 1980..2107.
#include "mgmt/datastore/exfat/clock.hpp"

namespace halcyon::exfat {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr uint16_t kFirstYear = 1980;
constexpr uint16_t kLastYear = 2107;

bool is_leap(uint32_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

uint32_t days_in_month(uint32_t year, uint32_t month) {
    static constexpr uint8_t kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

int64_t days_from_epoch(uint32_t year, uint32_t month, uint32_t day) {
    int64_t days = 0;
    for (uint32_t y = 1970; y < year; ++y)
        days += is_leap(y) ? 366 : 365;
    for (uint32_t m = 1; m < month; ++m)
        days += days_in_month(year, m);
    return days + day - 1;
}

} // namespace

DateTime datetime_from_unix_seconds(int64_t seconds, uint8_t centisecond) {
    DateTime time;
    int64_t first = days_from_epoch(kFirstYear, 1, 1) * kSecondsPerDay;
    int64_t last = (days_from_epoch(kLastYear, 12, 31) + 1) * kSecondsPerDay - 1;
    if (seconds < first)
        return time; // 1980-01-01 00:00:00
    if (seconds > last)
        seconds = last;
    int64_t days = seconds / kSecondsPerDay;
    int64_t rest = seconds % kSecondsPerDay;
    uint32_t year = 1970;
    while (days >= (is_leap(year) ? 366 : 365)) {
        days -= is_leap(year) ? 366 : 365;
        ++year;
    }
    uint32_t month = 1;
    while (days >= days_in_month(year, month)) {
        days -= days_in_month(year, month);
        ++month;
    }
    time.year = static_cast<uint16_t>(year);
    time.month = static_cast<uint8_t>(month);
    time.day = static_cast<uint8_t>(days + 1);
    time.hour = static_cast<uint8_t>(rest / 3600);
    time.minute = static_cast<uint8_t>(rest / 60 % 60);
    time.second = static_cast<uint8_t>(rest % 60);
    time.centisecond = centisecond < 100 ? centisecond : 99;
    time.utc_offset_quarters = 0;
    time.utc_offset_valid = true;
    return time;
}

int64_t unix_seconds_from_datetime(const DateTime& time) {
    int64_t seconds = days_from_epoch(time.year, time.month, time.day) * kSecondsPerDay +
                      time.hour * 3600 + time.minute * 60 + time.second;
    if (time.utc_offset_valid)
        seconds -= int64_t{time.utc_offset_quarters} * 15 * 60;
    return seconds;
}

PackedTime pack_time(const DateTime& time) {
    DateTime t = time;
    // Clamp anything out of range to something valid rather than recording garbage.
    if (t.year < kFirstYear)
        t = DateTime{};
    if (t.year > kLastYear)
        t.year = kLastYear;
    if (t.month < 1 || t.month > 12)
        t.month = 1;
    if (t.day < 1 || t.day > days_in_month(t.year, t.month))
        t.day = 1;
    if (t.hour > 23)
        t.hour = 23;
    if (t.minute > 59)
        t.minute = 59;
    if (t.second > 59)
        t.second = 59;
    if (t.centisecond > 99)
        t.centisecond = 99;
    PackedTime packed;
    packed.timestamp = uint32_t{t.second} / 2 | uint32_t{t.minute} << 5 | uint32_t{t.hour} << 11 |
                       uint32_t{t.day} << 16 | uint32_t{t.month} << 21 |
                       uint32_t(t.year - kFirstYear) << 25;
    // The odd second lives in the 10 ms increment (0..199).
    packed.increment_10ms = static_cast<uint8_t>((t.second % 2) * 100 + t.centisecond);
    int8_t quarters = t.utc_offset_quarters;
    if (quarters < -64 || quarters > 63)
        quarters = 0;
    packed.utc_offset = t.utc_offset_valid
                            ? static_cast<uint8_t>(0x80 | (static_cast<uint8_t>(quarters) & 0x7F))
                            : 0;
    return packed;
}

DateTime unpack_time(uint32_t timestamp, uint8_t increment_10ms, uint8_t utc_offset) {
    DateTime t;
    uint32_t increment = increment_10ms < 200 ? increment_10ms : 0;
    t.second = static_cast<uint8_t>((timestamp & 0x1F) * 2 + increment / 100);
    t.minute = static_cast<uint8_t>(timestamp >> 5 & 0x3F);
    t.hour = static_cast<uint8_t>(timestamp >> 11 & 0x1F);
    t.day = static_cast<uint8_t>(timestamp >> 16 & 0x1F);
    t.month = static_cast<uint8_t>(timestamp >> 21 & 0x0F);
    t.year = static_cast<uint16_t>(kFirstYear + (timestamp >> 25));
    t.centisecond = static_cast<uint8_t>(increment % 100);
    t.utc_offset_valid = (utc_offset & 0x80) != 0;
    // Sign-extend the 7-bit two's complement offset.
    uint8_t raw = utc_offset & 0x7F;
    t.utc_offset_quarters = static_cast<int8_t>(raw & 0x40 ? int(raw) - 128 : int(raw));
    return t;
}

} // namespace halcyon::exfat
