#include "vmm/core/log.hpp"

#include "lib/format/format.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/console.hpp"

#include <stdint.h>

namespace halcyon::log {
namespace {

constexpr size_t kLineCapacity = 512;
// Lock polls before EmergencyOutput writes anyway: at 10-100 ns a poll that is 0.5-5 s, far
// longer than any healthy CPU holds the lock for one line.
constexpr uint64_t kEmergencyWaitPolls = 50'000'000;

LogLevel g_level = LogLevel::info;

// The lock records its holder (CPU index + 1; 0 = free) so a crash on the holding CPU can see
// that waiting would deadlock.
uint32_t g_lock_owner = 0;

// Recent output, as a ring: g_recent_total counts every byte ever written, so the write position
// is g_recent_total % kRecentBytes and the ring is full once the total passes its size.
char g_recent[kRecentBytes];
uint64_t g_recent_total = 0;

uint32_t this_cpu_id() {
    // Before this CPU loads its tables only the BSP runs, so 0 is right.
    const x86::PerCpu* cpu = x86::this_cpu_if_ready();
    return cpu != nullptr ? cpu->index : 0;
}

void lock(uint32_t owner) {
    for (;;) {
        uint32_t expected = 0;
        if (__atomic_compare_exchange_n(&g_lock_owner, &expected, owner, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        while (__atomic_load_n(&g_lock_owner, __ATOMIC_RELAXED) != 0)
            x86::pause();
    }
}

void unlock() {
    __atomic_store_n(&g_lock_owner, 0, __ATOMIC_RELEASE);
}

// Console and ring; caller holds the lock (or is the emergency path).
void emit(const char* text, size_t length) {
    console::write(text, length);
    for (size_t i = 0; i < length; ++i)
        g_recent[(g_recent_total + i) % kRecentBytes] = text[i];
    g_recent_total += length;
}

size_t clamp_length(size_t formatted, size_t capacity) {
    return formatted < capacity ? formatted : capacity - 1;
}

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

void message(LogLevel level, const char* fmt, va_list args) {
    if (!enabled(level))
        return;
    const uint32_t cpu = this_cpu_id();
    const x86::tsc::Elapsed time = x86::tsc::since_entry();

    // Format outside the lock (it is the slow part); only the output is serialized.
    char line[kLineCapacity];
    size_t length = clamp_length(
        format::format(line, sizeof(line),
                       "[%5llu.%06u] cpu%u %s: ", static_cast<unsigned long long>(time.seconds),
                       time.microseconds, cpu, config::log_level_name(level)),
        sizeof(line));
    length += clamp_length(format::vformat(line + length, sizeof(line) - length, fmt, args),
                           sizeof(line) - length);
    if (length == sizeof(line) - 1)
        --length; // keep room for the newline of a truncated line
    line[length++] = '\n';

    lock(cpu + 1);
    emit(line, length);
    unlock();
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
    char line[kLineCapacity];
    va_list args;
    va_start(args, fmt);
    size_t length =
        clamp_length(format::vformat(line, sizeof(line) - 1, fmt, args), sizeof(line) - 1);
    va_end(args);
    line[length++] = '\n';
    lock(this_cpu_id() + 1);
    emit(line, length);
    unlock();
}

size_t copy_recent(char* out, size_t capacity) {
    const uint32_t cpu = this_cpu_id();
    lock(cpu + 1);
    const uint64_t total = g_recent_total;
    const size_t available = total < kRecentBytes ? static_cast<size_t>(total) : kRecentBytes;
    const size_t count = available < capacity ? available : capacity;
    // The newest `count` bytes, oldest first.
    const uint64_t first = total - count;
    for (size_t i = 0; i < count; ++i)
        out[i] = g_recent[(first + i) % kRecentBytes];
    unlock();
    return count;
}

EmergencyOutput::EmergencyOutput() {
    const uint32_t owner = this_cpu_id() + 1;
    if (__atomic_load_n(&g_lock_owner, __ATOMIC_RELAXED) == owner) {
        // We interrupted our own log line: waiting would deadlock. Start on a fresh line.
        emit("\n", 1);
        return;
    }
    for (uint64_t polls = 0; polls < kEmergencyWaitPolls; ++polls) {
        uint32_t expected = 0;
        if (__atomic_compare_exchange_n(&g_lock_owner, &expected, owner, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            locked_ = true;
            return;
        }
        x86::pause();
    }
    // The holder is stuck (perhaps halted by its own crash): write anyway.
}

EmergencyOutput::~EmergencyOutput() {
    if (locked_)
        unlock();
}

void EmergencyOutput::write(const char* text, size_t length) {
    emit(text, length);
}

void EmergencyOutput::print(const char* fmt, ...) {
    char line[kLineCapacity];
    va_list args;
    va_start(args, fmt);
    const size_t length =
        clamp_length(format::vformat(line, sizeof(line), fmt, args), sizeof(line));
    va_end(args);
    emit(line, length);
}

} // namespace halcyon::log
