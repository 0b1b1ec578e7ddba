// A 16550A UART as a guest sees it at an I/O base (COM1 = 0x3F8), enough for polled output:
// THR accepts every byte at once (LSR always reports an empty transmitter), the divisor latch,
// IER, LCR, MCR and the scratch register hold what the guest writes, nothing is ever received
// and no interrupt is raised yet (there is no virtual interrupt controller in this slice).
//
// Output goes to the VM's ConsoleBuffer and, line by line, to the host's serial log as
// "[vm NAME] text".
#pragma once

#include "vmm/worker/console_buffer.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker {

class Uart16550 {
public:
    static constexpr uint16_t kPortCount = 8;

    Uart16550(uint16_t base, const char* vm_name, ConsoleBuffer& console)
        : base_(base), vm_name_(vm_name), console_(&console) {}

    [[nodiscard]] bool claims(uint16_t port) const {
        return port >= base_ && port - base_ < kPortCount;
    }
    [[nodiscard]] uint8_t read(uint16_t port);
    void write(uint16_t port, uint8_t value);
    // Prints a partial line (when the VM stops with text not yet ended by a newline).
    void flush();

private:
    void output(uint8_t byte);

    uint16_t base_;
    const char* vm_name_;
    ConsoleBuffer* console_;
    uint8_t interrupt_enable_ = 0;
    uint8_t line_control_ = 0x03; // 8N1
    uint8_t modem_control_ = 0;
    uint8_t scratch_ = 0;
    uint8_t fifo_control_ = 0;
    uint16_t divisor_ = 1; // 115200 baud
    char line_[160] = {};
    size_t line_length_ = 0;
};

} // namespace halcyon::worker
