#include "vmm/worker/devices/console_line_sink.hpp"

#include <stdio.h>

namespace halcyon::worker {
namespace {

class StderrLineSink final : public ConsoleLineSink {
public:
    void line(const char* vm_name, const char* text) override {
        fprintf(stderr, "[vm %s] %s\n", vm_name, text);
    }
};

constinit StderrLineSink stderr_line_sink;

} // namespace

ConsoleLineSink& default_console_line_sink() {
    return stderr_line_sink;
}

} // namespace halcyon::worker
