#include "vmm/core/console.hpp"

#include "drivers/uart/uart_16550.hpp"

#include <string.h>

namespace halcyon::console {
namespace {

drivers::Uart16550 g_serial;

} // namespace

void init_early() {
    // Failure leaves the UART unusable and every write a no-op: nothing else to do this early.
    (void)g_serial.init(drivers::Uart16550::kCom1, 115200);
}

ErrorOr<void> configure(const config::SerialConfig& serial) {
    if (!serial.enabled) {
        g_serial = drivers::Uart16550();
        return {};
    }
    return g_serial.init(serial.io_port, serial.baud);
}

void write(const char* text, size_t length) {
    g_serial.write(text, length);
}

void write(const char* text) {
    g_serial.write(text, strlen(text));
}

} // namespace halcyon::console
