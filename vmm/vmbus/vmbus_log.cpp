#include "vmm/vmbus/vmbus_log.hpp"

#include "lib/format/format.hpp"

namespace halcyon::vmm::vmbus {

void VmbusLog::limited(Budget& budget, LogLevel level, const char* fmt, va_list args) {
    // Counted with atomics: channels of different devices refuse from different vCPUs at once.
    uint64_t n = __atomic_add_fetch(&budget.count, 1, __ATOMIC_RELAXED);
    if (n > kBurstLines && n % kSampleEvery != 0) {
        __atomic_fetch_add(&budget.suppressed, 1, __ATOMIC_RELAXED);
        return;
    }
    emit(level, fmt, args, __atomic_exchange_n(&budget.suppressed, 0, __ATOMIC_RELAXED));
}

void VmbusLog::refuse(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    limited(refusals_, LogLevel::warn, fmt, args);
    va_end(args);
}

void VmbusLog::event(LogLevel level, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    limited(events_, level, fmt, args);
    va_end(args);
}

void VmbusLog::note(LogLevel level, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    emit(level, fmt, args, 0);
    va_end(args);
}

void VmbusLog::emit(LogLevel level, const char* fmt, va_list args, uint64_t suppressed) {
    char text[kLineBytes];
    size_t used = format::format(text, sizeof(text), "vmbus: ");
    if (used < sizeof(text))
        used += format::vformat(text + used, sizeof(text) - used, fmt, args);
    if (suppressed != 0 && used < sizeof(text))
        format::format(text + used, sizeof(text) - used, " (%llu similar suppressed)",
                       static_cast<unsigned long long>(suppressed));
    sink_.line(level, text);
}

} // namespace halcyon::vmm::vmbus
