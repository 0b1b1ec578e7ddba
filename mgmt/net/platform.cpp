#include "mgmt/net/platform.hpp"

#include <string.h>

namespace halcyon::mgmt::net {
namespace {

// The CPU's random number instructions. Our own few lines rather than the core's
// vmm/arch/x86_64/random.cpp, because the management partition does not link the core's objects.
void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t (&regs)[4]) {
    asm volatile("cpuid"
                 : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                 : "a"(leaf), "c"(subleaf));
}

bool has_rdrand() {
    uint32_t regs[4];
    cpuid(1, 0, regs);
    return (regs[2] & (1u << 30)) != 0; // CPUID.1:ECX.RDRAND
}

bool has_rdseed() {
    uint32_t regs[4];
    cpuid(0, 0, regs);
    if (regs[0] < 7)
        return false;
    cpuid(7, 0, regs);
    return (regs[1] & (1u << 18)) != 0; // CPUID.(7,0):EBX.RDSEED
}

// Both instructions may transiently fail (CF = 0): a bounded number of retries.
bool rdrand64(uint64_t& out) {
    for (int i = 0; i < 10; ++i) {
        uint8_t ok;
        asm volatile("rdrand %0; setc %1" : "=r"(out), "=qm"(ok) : : "cc");
        if (ok)
            return true;
    }
    return false;
}

bool rdseed64(uint64_t& out) {
    for (int i = 0; i < 100; ++i) {
        uint8_t ok;
        asm volatile("rdseed %0; setc %1" : "=r"(out), "=qm"(ok) : : "cc");
        if (ok)
            return true;
        asm volatile("pause");
    }
    return false;
}

uint8_t cmos_read(uint8_t reg) {
    uint8_t value;
    // Bit 7 of the index port is the NMI mask: keep NMIs enabled.
    asm volatile("outb %0, $0x70" : : "a"(static_cast<uint8_t>(reg & 0x7F)));
    asm volatile("inb $0x71, %0" : "=a"(value));
    return value;
}

uint8_t from_bcd(uint8_t value) {
    return static_cast<uint8_t>((value >> 4) * 10 + (value & 0xF));
}

// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based computation).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2 ? 1 : 0;
    const int64_t era = (year >= 0 ? year : year - 399) / 400;
    const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
    const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct RtcFields {
    uint8_t second, minute, hour, day, month, year;
    friend bool operator==(const RtcFields&, const RtcFields&) = default;
};

RtcFields read_rtc_fields() {
    // Wait out an update in progress (status A bit 7), then read.
    for (int i = 0; i < 100000 && (cmos_read(0x0A) & 0x80) != 0; ++i)
        asm volatile("pause");
    return {cmos_read(0x00), cmos_read(0x02), cmos_read(0x04),
            cmos_read(0x07), cmos_read(0x08), cmos_read(0x09)};
}

} // namespace

void TscDelay::delay_us(uint32_t microseconds) {
    const uint64_t start = read_tsc();
    const uint64_t ticks = ticks_per_us_ * microseconds;
    while (read_tsc() - start < ticks)
        asm volatile("pause");
}

int64_t read_rtc_unix_seconds() {
    RtcFields fields = read_rtc_fields();
    for (int i = 0; i < 5; ++i) {
        const RtcFields again = read_rtc_fields();
        if (again == fields)
            break;
        fields = again;
    }
    const uint8_t status_b = cmos_read(0x0B);
    const bool binary = (status_b & 0x04) != 0;
    const bool hours24 = (status_b & 0x02) != 0;
    const bool pm = (fields.hour & 0x80) != 0;
    uint8_t hour = static_cast<uint8_t>(fields.hour & 0x7F);
    RtcFields f = fields;
    if (!binary) {
        f.second = from_bcd(f.second);
        f.minute = from_bcd(f.minute);
        hour = from_bcd(hour);
        f.day = from_bcd(f.day);
        f.month = from_bcd(f.month);
        f.year = from_bcd(f.year);
    }
    if (!hours24) {
        hour = static_cast<uint8_t>(hour % 12);
        if (pm)
            hour = static_cast<uint8_t>(hour + 12);
    }
    if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > 31 || hour > 23 || f.minute > 59 ||
        f.second > 60)
        return 0;
    // Two-digit year: 2000-2099 (no century register is assumed; the FADT may name one).
    const int64_t days = days_from_civil(2000 + f.year, f.month, f.day);
    return days * 86400 + int64_t(hour) * 3600 + int64_t(f.minute) * 60 + f.second;
}

bool gather_entropy(std::span<uint8_t> out) {
    const bool seed = has_rdseed();
    const bool rand = has_rdrand();
    size_t filled = 0;
    while (filled < out.size()) {
        uint64_t value = read_tsc();
        uint64_t sample = 0;
        if (seed && rdseed64(sample))
            value ^= sample;
        else if (rand && rdrand64(sample))
            value ^= sample;
        const size_t n = out.size() - filled < 8 ? out.size() - filled : 8;
        memcpy(out.data() + filled, &value, n);
        filled += n;
    }
    return seed || rand;
}

uint32_t random32() {
    static bool checked = false;
    static bool rand = false;
    static uint64_t state = 0;
    if (!checked) {
        rand = has_rdrand();
        state = read_tsc() | 1;
        checked = true;
    }
    uint64_t value;
    if (rand && rdrand64(value))
        return static_cast<uint32_t>(value ^ (value >> 32));
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>((state ^ read_tsc()) >> 11);
}

} // namespace halcyon::mgmt::net
