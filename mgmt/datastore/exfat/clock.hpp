// Wall-clock time for timestamps. The library has no clock of its own: the hypervisor injects
// one backed by its RTC, the host tool one backed by the OS, the tests a fixed one.
#pragma once

#include <stdint.h>

namespace halcyon::exfat {

// A local date and time as exFAT records it, with its offset from UTC.
struct DateTime {
    uint16_t year = 1980; // 1980..2107
    uint8_t month = 1;    // 1..12
    uint8_t day = 1;      // 1..31
    uint8_t hour = 0;
    uint8_t minute = 0;
    uint8_t second = 0;
    uint8_t centisecond = 0; // 0..99
    // Offset of the local time from UTC in 15-minute units (-64..63); meaningful only when
    // utc_offset_valid (otherwise exFAT readers treat the time as their own local time).
    int8_t utc_offset_quarters = 0;
    bool utc_offset_valid = true;

    bool operator==(const DateTime&) const = default;
};

class Clock {
public:
    virtual ~Clock() = default;
    [[nodiscard]] virtual DateTime now() = 0;
};

// UTC calendar time for seconds since 1970-01-01 (clamped to exFAT's 1980..2107 range).
[[nodiscard]] DateTime datetime_from_unix_seconds(int64_t seconds, uint8_t centisecond = 0);
// Seconds since 1970-01-01 for a DateTime, applying its UTC offset when valid.
[[nodiscard]] int64_t unix_seconds_from_datetime(const DateTime& time);

// The packed exFAT form (7.4.8-7.4.10): Timestamp, 10msIncrement, UtcOffset.
struct PackedTime {
    uint32_t timestamp;
    uint8_t increment_10ms;
    uint8_t utc_offset;
};
[[nodiscard]] PackedTime pack_time(const DateTime& time);
[[nodiscard]] DateTime unpack_time(uint32_t timestamp, uint8_t increment_10ms, uint8_t utc_offset);

} // namespace halcyon::exfat
