// halcyon::panic for the management partition (declarations: vmm/core/panic.hpp): print the
// reason on COM1 in the crash report's format and triple-fault, so the core restarts the
// partition exactly as after an exception. One vCPU: no other CPUs to stop.
#include "vmm/core/panic.hpp"

#include "lib/format/format.hpp"
#include "mgmt/partition/runtime/cpu_tables.hpp"
#include "mgmt/partition/runtime/serial.hpp"

#include <stdarg.h>
#include <stddef.h>

namespace halcyon {
namespace {

bool g_panicking = false;

[[noreturn]] void panic_line(const char* fmt, va_list args) {
    char line[256];
    size_t length = format::format(line, sizeof(line), "mgmt: PANIC: ");
    length += format::vformat(line + length, sizeof(line) - length - 1, fmt, args);
    if (length > sizeof(line) - 2)
        length = sizeof(line) - 2;
    line[length++] = '\n';
    mgmt::partition::serial_write(line, length);
    const char end[] = "mgmt: CRASH END\n";
    mgmt::partition::serial_write(end, sizeof(end) - 1);
    mgmt::partition::triple_fault();
}

} // namespace

bool panic_in_progress() {
    return g_panicking;
}

bool begin_panic() {
    const bool first = !g_panicking;
    g_panicking = true;
    return first;
}

void panicf(const char* fmt, ...) {
    (void)begin_panic();
    va_list args;
    va_start(args, fmt);
    panic_line(fmt, args);
}

void panic(const char* message) {
    panicf("%s", message);
}

} // namespace halcyon
