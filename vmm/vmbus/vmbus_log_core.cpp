#include "vmm/core/log.hpp"
#include "vmm/vmbus/vmbus_log.hpp"

namespace halcyon::vmm::vmbus {
namespace {

class CoreLogSink final : public LogSink {
public:
    void line(LogLevel level, const char* text) override {
        switch (level) {
        case LogLevel::error:
            log::error("%s", text);
            return;
        case LogLevel::warn:
            log::warn("%s", text);
            return;
        case LogLevel::info:
            log::info("%s", text);
            return;
        case LogLevel::debug:
            log::debug("%s", text);
            return;
        }
    }
};

constinit CoreLogSink core_log_sink;

} // namespace

LogSink& default_log_sink() {
    return core_log_sink;
}

} // namespace halcyon::vmm::vmbus
