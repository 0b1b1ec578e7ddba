#include "vmm/vmbus/vmbus_log.hpp"

#include <stdio.h>

namespace halcyon::vmm::vmbus {
namespace {

class StderrLogSink final : public LogSink {
public:
    void line(LogLevel level, const char* text) override {
        static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
        fprintf(stderr, "%s: %s\n", kNames[static_cast<int>(level)], text);
    }
};

constinit StderrLogSink stderr_log_sink;

} // namespace

LogSink& default_log_sink() {
    return stderr_log_sink;
}

} // namespace halcyon::vmm::vmbus
