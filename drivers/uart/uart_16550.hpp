// A 16550-compatible UART driven by polling: the core's first and last output device (log lines,
// panics, crash reports), so it must work with no interrupts, no memory allocation and no other
// driver. A port that is absent or stuck must never hang the core: init() detects a missing UART,
// and transmission gives up after a bounded wait and then stays silent.
#pragma once

#include "lib/base/error_or.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers {

class Uart16550 {
public:
    // Standard PC port bases.
    static constexpr uint16_t kCom1 = 0x3F8;
    static constexpr uint32_t kClockRate = 115200; // 1.8432 MHz / 16

    constexpr Uart16550() = default;

    // Programs `io_port` for `baud` 8N1 with FIFOs on and interrupts off. Fails with not_found
    // when nothing answers at that port, invalid_argument for a baud rate the divisor cannot make.
    [[nodiscard]] ErrorOr<void> init(uint16_t io_port, uint32_t baud);

    // Writes `length` bytes, expanding "\n" to "\r\n". Returns at once when the port is not
    // initialized or was found stuck.
    void write(const char* text, size_t length);
    void write(const char* text);
    void put(char c);

    [[nodiscard]] bool usable() const { return usable_; }
    [[nodiscard]] uint16_t io_port() const { return io_port_; }

private:
    void transmit(uint8_t byte);

    uint16_t io_port_ = 0;
    bool usable_ = false;
};

} // namespace halcyon::drivers
