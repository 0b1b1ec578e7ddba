// A 16550A UART as a guest sees it at an I/O base (COM1 = 0x3F8, IRQ 4).
//
// Transmission is instantaneous: a byte written to THR goes to the VM's ConsoleBuffer and,
// line by line, to a ConsoleLineSink (the host's serial log as "[vm NAME] text"), and the
// transmitter is empty again at once (LSR THRE and TEMT always read 1). Received bytes come
// from receive() through a kReceiveCapacity-byte queue that stands in for the receive FIFO.
//
// Interrupts follow the 16550A: IIR reports the highest-priority pending source (line status
// > received data / character timeout > THR empty > modem status); the INTR output reaches
// the interrupt line only while MCR OUT2 is set (the PC's IRQ gate) and loopback is off.
// THR-empty is pending after each transmitted byte and, as on the real part, whenever IER's
// THRI bit goes from 0 to 1 with the transmitter empty; it is cleared by writing THR or by
// reading IIR while IIR reports it. Linux's serial8250_startup relies on exactly that (its
// UART_BUG_THRE and UART_BUG_TXEN probes). In FIFO mode, data below the trigger level is
// reported as a character timeout at once (the 4-character-time delay is not modelled).
// Loopback (MCR bit 4) feeds transmitted bytes back into the receiver and the modem
// control outputs into MSR, as the autoconfiguration code of OSes expects. Line errors never
// happen: when the queue is full, receive() refuses the byte instead of overrunning.
#pragma once

#include "vmm/worker/console_buffer.hpp"
#include "vmm/worker/devices/console_line_sink.hpp"
#include "vmm/worker/devices/interrupt_line.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker {

class Uart16550 {
public:
    static constexpr uint16_t kPortCount = 8;
    static constexpr size_t kReceiveCapacity = 256;

    // `irq` may be null (a polled port); `lines` null means default_console_line_sink().
    Uart16550(uint16_t base, const char* vm_name, ConsoleBuffer& console,
              InterruptLine* irq = nullptr, ConsoleLineSink* lines = nullptr)
        : base_(base), vm_name_(vm_name), console_(&console), irq_(irq),
          lines_(lines != nullptr ? lines : &default_console_line_sink()) {}

    [[nodiscard]] bool claims(uint16_t port) const {
        return port >= base_ && port - base_ < kPortCount;
    }
    [[nodiscard]] uint8_t read(uint16_t port);
    void write(uint16_t port, uint8_t value);
    // The generic port-device form (wider accesses touch consecutive registers).
    uint32_t read(uint16_t port, uint8_t size, uint64_t now);
    void write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] uint8_t read_byte(uint16_t port, uint64_t) { return read(port); }
    void write_byte(uint16_t port, uint8_t value, uint64_t) { write(port, value); }

    // Connects (or replaces) the interrupt line after construction.
    void connect_interrupt(InterruptLine& irq);
    // Console input for the guest; false (byte dropped) when the queue is full.
    [[nodiscard]] bool receive(uint8_t byte);
    [[nodiscard]] size_t receive_queue_size() const { return rx_count_; }
    // Prints a partial line (when the VM stops with text not yet ended by a newline).
    void flush();

    [[nodiscard]] bool interrupt_asserted() const { return irq_level_; }

private:
    [[nodiscard]] uint8_t interrupt_identification() const;
    [[nodiscard]] uint8_t modem_inputs() const;
    [[nodiscard]] bool fifo_enabled() const { return (fifo_control_ & 1) != 0; }
    [[nodiscard]] bool loopback() const;
    void transmit(uint8_t byte);
    void output(uint8_t byte);
    [[nodiscard]] bool push_received(uint8_t byte);
    [[nodiscard]] uint8_t pop_received();
    void write_modem_control(uint8_t value);
    void update_interrupt();

    uint16_t base_;
    const char* vm_name_;
    ConsoleBuffer* console_;
    InterruptLine* irq_;
    ConsoleLineSink* lines_;
    bool irq_level_ = false;
    uint8_t interrupt_enable_ = 0;
    uint8_t line_control_ = 0x03; // 8N1
    uint8_t modem_control_ = 0;
    uint8_t modem_status_deltas_ = 0; // MSR bits 0-3, cleared by reading MSR
    uint8_t scratch_ = 0;
    uint8_t fifo_control_ = 0; // FCR bit 0 (enable) and bits 6-7 (receive trigger level)
    uint16_t divisor_ = 1;     // 115200 baud
    bool thr_empty_pending_ = false;
    uint8_t rx_[kReceiveCapacity] = {};
    size_t rx_head_ = 0;
    size_t rx_count_ = 0;
    char line_[160] = {};
    size_t line_length_ = 0;
};

} // namespace halcyon::worker
