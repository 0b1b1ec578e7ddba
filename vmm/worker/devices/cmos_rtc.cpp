#include "vmm/worker/devices/cmos_rtc.hpp"

#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/devices/port_bytes.hpp"

namespace halcyon::worker {
namespace {

constexpr uint8_t kSeconds = 0x00;
constexpr uint8_t kMinutes = 0x02;
constexpr uint8_t kHours = 0x04;
constexpr uint8_t kWeekday = 0x06;
constexpr uint8_t kDayOfMonth = 0x07;
constexpr uint8_t kMonth = 0x08;
constexpr uint8_t kYear = 0x09;
constexpr uint8_t kRegisterA = 0x0A;
constexpr uint8_t kRegisterB = 0x0B;
constexpr uint8_t kRegisterC = 0x0C;
constexpr uint8_t kRegisterD = 0x0D;
constexpr uint8_t kCentury = platform::kCmosCenturyIndex;

constexpr uint8_t kAUpdateInProgress = 0x80;
constexpr uint8_t kBSet = 0x80;
constexpr uint8_t kBUpdateInterruptEnable = 0x10;
constexpr uint8_t kBBinary = 0x04;
constexpr uint8_t kB24Hour = 0x02;
constexpr uint8_t kCInterruptRequest = 0x80;
constexpr uint8_t kCUpdateEnded = 0x10;
constexpr uint8_t kDValidRamAndTime = 0x80;
constexpr uint8_t kHourPm = 0x80;

// What firmware leaves there: 32.768 kHz time base, 1024 Hz rate; 24-hour BCD.
constexpr uint8_t kRegisterADefault = 0x26;
constexpr uint8_t kRegisterBDefault = kB24Hour;

unsigned clamp(unsigned value, unsigned low, unsigned high) {
    return value < low ? low : value > high ? high : value;
}

} // namespace

CmosRtc::CmosRtc(uint64_t tsc_hz, uint64_t now, int64_t epoch_seconds)
    : tsc_hz_(tsc_hz != 0 ? tsc_hz : 1), update_window_cycles_(tsc_hz_ / 4096), origin_(now),
      epoch_at_origin_(epoch_seconds), flags_read_at_(now) {
    bytes_[kRegisterA] = kRegisterADefault;
    bytes_[kRegisterB] = kRegisterBDefault;
}

uint32_t CmosRtc::read(uint16_t port, uint8_t size, uint64_t now) {
    return read_port_bytes(*this, port, size, now);
}

void CmosRtc::write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    write_port_bytes(*this, port, size, value, now);
}

uint8_t CmosRtc::read_byte(uint16_t port, uint64_t now) {
    // The index register is write-only on PCs.
    return port == kIndexPort ? 0xFF : read_register(index_, now);
}

void CmosRtc::write_byte(uint16_t port, uint8_t value, uint64_t now) {
    if (port == kIndexPort)
        index_ = value & 0x7F; // bit 7 disables NMI in the chipset, not the RTC's business
    else
        write_register(index_, value, now);
}

uint64_t CmosRtc::whole_seconds_since_origin(uint64_t tsc) const {
    return tsc > origin_ ? (tsc - origin_) / tsc_hz_ : 0;
}

int64_t CmosRtc::epoch_seconds(uint64_t now) const {
    if (held_)
        return seconds_from_civil(held_time_);
    return epoch_at_origin_ + static_cast<int64_t>(whole_seconds_since_origin(now));
}

CivilTime CmosRtc::civil_time(uint64_t now) const {
    if (!held_)
        return civil_from_seconds(epoch_seconds(now));
    // Held: the registers as written, even a February 30 not yet normalised.
    CivilTime time = held_time_;
    time.weekday = weekday_of(time.year, time.month, time.day);
    return time;
}

bool CmosRtc::binary() const {
    return (bytes_[kRegisterB] & kBBinary) != 0;
}
bool CmosRtc::hours_24() const {
    return (bytes_[kRegisterB] & kB24Hour) != 0;
}

uint8_t CmosRtc::encode(unsigned value) const {
    return static_cast<uint8_t>(binary() ? value : (value / 10) << 4 | value % 10);
}

unsigned CmosRtc::decode(uint8_t value) const {
    return binary() ? value : (value >> 4) * 10u + (value & 0x0F);
}

uint8_t CmosRtc::read_register(uint8_t index, uint64_t now) {
    switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kWeekday:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury: {
        const CivilTime time = civil_time(now);
        switch (index) {
        case kSeconds:
            return encode(time.second);
        case kMinutes:
            return encode(time.minute);
        case kHours: {
            if (hours_24())
                return encode(time.hour);
            const unsigned hour12 = time.hour % 12 == 0 ? 12 : time.hour % 12;
            return static_cast<uint8_t>(encode(hour12) | (time.hour >= 12 ? kHourPm : 0));
        }
        case kWeekday:
            return encode(time.weekday + 1u); // 1 = Sunday
        case kDayOfMonth:
            return encode(time.day);
        case kMonth:
            return encode(time.month);
        case kYear:
            return encode(static_cast<unsigned>(time.year % 100));
        default:
            return encode(static_cast<unsigned>(time.year / 100));
        }
    }
    case kRegisterA: {
        const bool running = !held_;
        const uint64_t into_second = now > origin_ ? (now - origin_) % tsc_hz_ : 0;
        const bool updating = running && tsc_hz_ - into_second <= update_window_cycles_;
        return static_cast<uint8_t>(bytes_[kRegisterA] | (updating ? kAUpdateInProgress : 0));
    }
    case kRegisterC: {
        const bool update_ended =
            !held_ && whole_seconds_since_origin(now) > whole_seconds_since_origin(flags_read_at_);
        flags_read_at_ = now; // reading C clears its flags
        if (!update_ended)
            return 0;
        const bool enabled = (bytes_[kRegisterB] & kBUpdateInterruptEnable) != 0;
        return static_cast<uint8_t>(kCUpdateEnded | (enabled ? kCInterruptRequest : 0));
    }
    case kRegisterD:
        return kDValidRamAndTime;
    default:
        return bytes_[index]; // alarms, register B, NVRAM
    }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, uint64_t now) {
    switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
        write_time_field(index, value, now);
        return;
    case kWeekday:
        return; // derived from the date
    case kRegisterA:
        bytes_[kRegisterA] = value & static_cast<uint8_t>(~kAUpdateInProgress);
        return;
    case kRegisterB:
        write_control(value, now);
        return;
    case kRegisterC:
    case kRegisterD:
        return; // read-only
    default:
        bytes_[index] = value;
        return;
    }
}

void CmosRtc::write_control(uint8_t value, uint64_t now) {
    const bool set = (value & kBSet) != 0;
    if (set && !held_) {
        held_time_ = civil_time(now);
        held_ = true;
        value &= static_cast<uint8_t>(~kBUpdateInterruptEnable); // SET clears UIE
    } else if (!set && held_) {
        // The clock restarts from the edited time with a full second to the next update.
        epoch_at_origin_ = seconds_from_civil(held_time_);
        origin_ = now;
        flags_read_at_ = now;
        held_ = false;
    }
    bytes_[kRegisterB] = value;
}

void CmosRtc::write_time_field(uint8_t index, uint8_t value, uint64_t now) {
    CivilTime time = civil_time(now);
    switch (index) {
    case kSeconds:
        time.second = static_cast<uint8_t>(clamp(decode(value), 0, 59));
        break;
    case kMinutes:
        time.minute = static_cast<uint8_t>(clamp(decode(value), 0, 59));
        break;
    case kHours: {
        unsigned hour = decode(static_cast<uint8_t>(value & ~kHourPm));
        if (!hours_24())
            hour = hour % 12 + ((value & kHourPm) ? 12 : 0);
        time.hour = static_cast<uint8_t>(clamp(hour, 0, 23));
        break;
    }
    case kDayOfMonth:
        time.day = static_cast<uint8_t>(clamp(decode(value), 1, 31));
        break;
    case kMonth:
        time.month = static_cast<uint8_t>(clamp(decode(value), 1, 12));
        break;
    case kYear:
        time.year = time.year / 100 * 100 + static_cast<int32_t>(clamp(decode(value), 0, 99));
        break;
    default: // century
        time.year = static_cast<int32_t>(clamp(decode(value), 0, 99)) * 100 + time.year % 100;
        break;
    }
    if (time.year < 1)
        time.year = 1;
    if (held_) {
        held_time_ = time; // normalised (e.g. February 30) only when the clock restarts
        return;
    }
    // Move the running clock, keeping its phase within the second.
    epoch_at_origin_ += seconds_from_civil(time) - epoch_seconds(now);
}

} // namespace halcyon::worker
