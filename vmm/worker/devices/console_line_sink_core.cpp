#include "vmm/core/log.hpp"
#include "vmm/worker/devices/console_line_sink.hpp"

namespace halcyon::worker {
namespace {

class LogLineSink final : public ConsoleLineSink {
public:
    void line(const char* vm_name, const char* text) override {
        log::plain_line("[vm %s] %s", vm_name, text);
    }
};

constinit LogLineSink log_line_sink;

} // namespace

ConsoleLineSink& default_console_line_sink() {
    return log_line_sink;
}

} // namespace halcyon::worker
