// The core's log: printf-style lines on the console, each prefixed with the time since core
// entry, the CPU and the level:  "[   12.345678] cpu0 info: message". A spinlock keeps lines
// from different CPUs whole, and the most recent kRecentBytes of output are kept in memory
// (copy_recent) so they can be fetched later without a serial cable.
//
// Crash and panic paths use EmergencyOutput instead: it takes the lock only if that is safe
// (never when this CPU already holds it, and only for a bounded wait), so a fault inside the
// logger cannot deadlock its own crash report.
#pragma once

#include "boot/config/config.hpp"

#include <stdarg.h>
#include <stddef.h>

namespace halcyon::log {

using config::LogLevel;

inline constexpr size_t kRecentBytes = 16 * 1024;

void set_level(LogLevel level);
[[nodiscard]] LogLevel level();
[[nodiscard]] bool enabled(LogLevel level);
[[nodiscard]] const char* level_name(LogLevel level);

__attribute__((format(printf, 1, 2))) void error(const char* fmt, ...);
__attribute__((format(printf, 1, 2))) void warn(const char* fmt, ...);
__attribute__((format(printf, 1, 2))) void info(const char* fmt, ...);
__attribute__((format(printf, 1, 2))) void debug(const char* fmt, ...);
__attribute__((format(printf, 1, 2))) void trace(const char* fmt, ...);
void message(LogLevel level, const char* fmt, va_list args);

// A line without the prefix (machine-readable markers such as "HALCYON READY ..."), printed
// whatever the level, under the lock. A newline is appended.
__attribute__((format(printf, 1, 2))) void plain_line(const char* fmt, ...);

// Copies the most recent output (oldest first) into `out`; returns the bytes copied.
size_t copy_recent(char* out, size_t capacity);

// Unconditional, crash-safe output (see the file comment). Lines are written as given (callers
// add their own "CRASH"/"PANIC" prefixes and newlines).
class EmergencyOutput {
public:
    EmergencyOutput();
    ~EmergencyOutput();
    EmergencyOutput(const EmergencyOutput&) = delete;
    EmergencyOutput& operator=(const EmergencyOutput&) = delete;

    __attribute__((format(printf, 2, 3))) void print(const char* fmt, ...);
    void write(const char* text, size_t length);

private:
    bool locked_ = false;
};

} // namespace halcyon::log
