// Where a VM's serial console lines go besides its ConsoleBuffer: in the core, the host's
// serial log as "[vm NAME] text"; in host tests, whatever the test wants to check.
#pragma once

namespace halcyon::worker {

class ConsoleLineSink {
public:
    // One line of console output without its newline (NUL-terminated, printable ASCII).
    virtual void line(const char* vm_name, const char* text) = 0;

protected:
    ~ConsoleLineSink() = default;
};

// The world's default sink: the core's log (console_line_sink_core.cpp) or stderr on the host
// (console_line_sink_host.cpp).
[[nodiscard]] ConsoleLineSink& default_console_line_sink();

} // namespace halcyon::worker
