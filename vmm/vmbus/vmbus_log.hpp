// Where the VMBus host reports what it refused or lost: every refusal of a guest message, every
// channel closed for a corrupt ring. The host formats one line at a time and hands it to a
// LogSink: the core's log in the hypervisor (vmbus_log_core.cpp), stderr in host tools
// (vmbus_log_host.cpp), a recorder in the unit tests.
//
// A hostile guest can send refusals as fast as it can post messages, so VmbusLog rate-limits:
// the first kBurstLines lines are written, then one in every kSampleEvery, each sampled line
// saying how many were suppressed in between. Lines about things a guest may legitimately do
// but could repeat at will (connect, reconnect, unload) are limited the same way on a budget of
// their own, so a reconnect loop can neither flood the host's console nor hide refusals.
#pragma once

#include <stdarg.h>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

enum class LogLevel : uint8_t { error, warn, info, debug };

class LogSink {
public:
    // One line without newline, NUL-terminated.
    virtual void line(LogLevel level, const char* text) = 0;

protected:
    ~LogSink() = default;
};

// The world's default sink (the core's log, or stderr on the host).
[[nodiscard]] LogSink& default_log_sink();

class VmbusLog {
public:
    static constexpr uint32_t kBurstLines = 64;
    static constexpr uint32_t kSampleEvery = 256;
    static constexpr uint32_t kLineBytes = 200;

    explicit VmbusLog(LogSink& sink) : sink_(sink) {}

    // Something the guest did wrong (rate-limited).
    __attribute__((format(printf, 2, 3))) void refuse(const char* fmt, ...);
    // Something the guest did that is allowed but repeatable at will (rate-limited apart).
    __attribute__((format(printf, 3, 4))) void event(LogLevel level, const char* fmt, ...);
    // Host-side events worth a line (not rate-limited: the guest cannot trigger them at will).
    __attribute__((format(printf, 3, 4))) void note(LogLevel level, const char* fmt, ...);

    [[nodiscard]] uint64_t refusals() const {
        return __atomic_load_n(&refusals_.count, __ATOMIC_RELAXED);
    }

private:
    struct Budget {
        uint64_t count = 0;
        uint64_t suppressed = 0;
    };
    void limited(Budget& budget, LogLevel level, const char* fmt, va_list args);
    void emit(LogLevel level, const char* fmt, va_list args, uint64_t suppressed);

    LogSink& sink_;
    Budget refusals_;
    Budget events_;
};

} // namespace halcyon::vmm::vmbus
