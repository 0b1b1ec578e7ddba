// halcyon::log for the management partition (declarations: vmm/core/log.hpp). One vCPU and no
// interrupts that log, so no lock is needed; each line is formatted whole and written at once.
#include "vmm/core/log.hpp"

#include "lib/format/format.hpp"
#include "mgmt/partition/runtime/log_setup.hpp"
#include "mgmt/partition/runtime/serial.hpp"

#include <stdint.h>

namespace halcyon::mgmt::partition {
namespace {

constexpr size_t kLineCapacity = 512;

uint64_t g_tsc_hz = 0;
uint64_t g_entry_tsc = 0;

uint64_t rdtsc() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t(high) << 32) | low;
}

size_t clamp_length(size_t formatted, size_t capacity) {
    return formatted < capacity ? formatted : capacity - 1;
}

} // namespace

void set_log_clock(uint64_t tsc_hz, uint64_t core_entry_tsc) {
    g_tsc_hz = tsc_hz;
    g_entry_tsc = core_entry_tsc;
}

// Seconds and microseconds since core entry, without 128-bit division: the remainder is below
// the TSC frequency (< 2^34), so remainder * 10^6 fits in 64 bits.
void elapsed(uint64_t& seconds, uint32_t& microseconds) {
    if (g_tsc_hz == 0) {
        seconds = 0;
        microseconds = 0;
        return;
    }
    const uint64_t ticks = rdtsc() - g_entry_tsc;
    seconds = ticks / g_tsc_hz;
    microseconds = static_cast<uint32_t>((ticks % g_tsc_hz) * 1'000'000 / g_tsc_hz);
}

} // namespace halcyon::mgmt::partition

namespace halcyon::log {
namespace {
LogLevel g_level = LogLevel::info;
} // namespace

void set_level(LogLevel level) {
    g_level = level;
}
LogLevel level() {
    return g_level;
}
bool enabled(LogLevel level) {
    return static_cast<uint8_t>(level) <= static_cast<uint8_t>(g_level);
}
const char* level_name(LogLevel level) {
    return config::log_level_name(level);
}

void message(LogLevel level, const char* fmt, va_list args) {
    if (!enabled(level))
        return;
    uint64_t seconds;
    uint32_t microseconds;
    mgmt::partition::elapsed(seconds, microseconds);
    char line[mgmt::partition::kLineCapacity];
    using mgmt::partition::clamp_length;
    size_t length = clamp_length(format::format(line, sizeof(line), "[%5llu.%06u] mgmt %s: ",
                                                static_cast<unsigned long long>(seconds),
                                                microseconds, config::log_level_name(level)),
                                 sizeof(line));
    length += clamp_length(format::vformat(line + length, sizeof(line) - length, fmt, args),
                           sizeof(line) - length);
    if (length == sizeof(line) - 1)
        --length; // keep room for the newline of a truncated line
    line[length++] = '\n';
    mgmt::partition::serial_write(line, length);
}

#define HALCYON_LOG_FUNCTION(name, level_value)                                                    \
    void name(const char* fmt, ...) {                                                              \
        va_list args;                                                                              \
        va_start(args, fmt);                                                                       \
        message(level_value, fmt, args);                                                           \
        va_end(args);                                                                              \
    }
HALCYON_LOG_FUNCTION(error, LogLevel::error)
HALCYON_LOG_FUNCTION(warn, LogLevel::warn)
HALCYON_LOG_FUNCTION(info, LogLevel::info)
HALCYON_LOG_FUNCTION(debug, LogLevel::debug)
HALCYON_LOG_FUNCTION(trace, LogLevel::trace)
#undef HALCYON_LOG_FUNCTION

void plain_line(const char* fmt, ...) {
    char line[mgmt::partition::kLineCapacity];
    va_list args;
    va_start(args, fmt);
    size_t length = mgmt::partition::clamp_length(
        format::vformat(line, sizeof(line) - 1, fmt, args), sizeof(line) - 1);
    va_end(args);
    line[length++] = '\n';
    mgmt::partition::serial_write(line, length);
}

} // namespace halcyon::log
