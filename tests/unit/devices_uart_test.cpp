#include "devices_test_support.hpp"
#include "vmm/worker/devices/uart16550.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace halcyon::worker {
namespace {

using testing::RecordingLine;

constexpr uint16_t kBase = 0x3F8;
constexpr uint8_t kThr = 0, kIer = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                  kScr = 7;

class RecordingSink final : public ConsoleLineSink {
public:
    void line(const char* vm_name, const char* text) override {
        lines.push_back(std::string(vm_name) + ": " + text);
    }
    std::vector<std::string> lines;
};

class DevicesUartTest : public ::testing::Test {
protected:
    uint8_t in(uint8_t reg) { return uart.read(static_cast<uint16_t>(kBase + reg)); }
    void out(uint8_t reg, uint8_t value) { uart.write(static_cast<uint16_t>(kBase + reg), value); }
    std::string console_text() {
        uint8_t bytes[ConsoleBuffer::kCapacity];
        const size_t count = console.copy(bytes, sizeof(bytes));
        return std::string(reinterpret_cast<const char*>(bytes), count);
    }

    ConsoleBuffer console;
    RecordingSink sink;
    RecordingLine irq;
    Uart16550 uart{kBase, "guest", console, &irq, &sink};
};

TEST_F(DevicesUartTest, PolledOutputReachesConsoleAndLog) {
    for (const char c : std::string("hello\r\nwor\x01ld"))
        out(kThr, static_cast<uint8_t>(c));
    EXPECT_EQ(console_text(), "hello\r\nwor\x01ld");
    ASSERT_EQ(sink.lines.size(), 1u);
    EXPECT_EQ(sink.lines[0], "guest: hello");
    uart.flush();
    ASSERT_EQ(sink.lines.size(), 2u);
    EXPECT_EQ(sink.lines[1], "guest: wor?ld");
    EXPECT_EQ(in(kLsr), 0x60); // transmitter always empty, nothing received
    EXPECT_FALSE(irq.level);   // no interrupts enabled
}

TEST_F(DevicesUartTest, RegistersAndDivisorLatch) {
    out(kLcr, 0x83);
    out(kThr, 0x01);
    out(kIer, 0x00);
    EXPECT_EQ(in(kThr), 0x01);
    EXPECT_EQ(in(kIer), 0x00);
    out(kLcr, 0x03);
    EXPECT_TRUE(console_text().empty()); // divisor writes are not output
    out(kIer, 0xFF);
    EXPECT_EQ(in(kIer), 0x0F);
    out(kScr, 0x5A);
    EXPECT_EQ(in(kScr), 0x5A);
    EXPECT_EQ(in(kMsr), 0xB0);                         // CTS, DSR, DCD
    EXPECT_EQ(uart.read(kBase + kScr, 2, 0), 0xFF5Au); // 0x3FF + 1 is not the UART's
}

TEST_F(DevicesUartTest, FifoControlShowsInIirTopBits) {
    EXPECT_EQ(in(kIir), 0x01);
    out(kFcr, 0x07);
    EXPECT_EQ(in(kIir), 0xC1);
    EXPECT_EQ(in(kIir)&0x30, 0); // no 64-byte FIFO: a 16550A, not a 16750
    out(kFcr, 0x00);
    EXPECT_EQ(in(kIir), 0x01);
}

// serial8250_do_startup's UART_BUG_THRE probe, then its UART_BUG_TXEN probe.
TEST_F(DevicesUartTest, PassesLinuxThreProbesLikeA16550A) {
    out(kFcr, 0x07);
    ASSERT_NE(in(kLsr)&0x20, 0); // wait_for_xmitr(UART_LSR_THRE)
    out(kIer, 0x02);
    const uint8_t iir1 = in(kIir);
    out(kIer, 0x00);
    out(kIer, 0x02);
    const uint8_t iir = in(kIir);
    out(kIer, 0x00);
    EXPECT_EQ(iir1 & 0x01, 0) << "THRE not raised when THRI was enabled";
    EXPECT_EQ(iir1 & 0x0F, 0x02);
    EXPECT_EQ(iir & 0x01, 0) << "THRE not re-asserted: Linux would set UART_BUG_THRE";

    out(kLcr, 0x03);
    out(kMcr, 0x0B); // DTR, RTS, OUT2
    out(kIer, 0x02);
    const uint8_t lsr = in(kLsr);
    const uint8_t iir2 = in(kIir);
    out(kIer, 0x00);
    EXPECT_FALSE((lsr & 0x40) && (iir2 & 0x01)) << "Linux would set UART_BUG_TXEN";
}

TEST_F(DevicesUartTest, ReadingIirAcknowledgesThre) {
    out(kIer, 0x02);
    EXPECT_EQ(in(kIir), 0x02);
    EXPECT_EQ(in(kIir), 0x01);
    out(kIer, 0x03); // THRI stays set: no new THRE
    EXPECT_EQ(in(kIir), 0x01);
    out(kThr, 'x'); // a transmitted byte empties THR again
    EXPECT_EQ(in(kIir), 0x02);
}

TEST_F(DevicesUartTest, InterruptLineIsGatedByOut2) {
    out(kIer, 0x02);
    EXPECT_FALSE(irq.level); // OUT2 clear: the IRQ driver is off
    out(kMcr, 0x08);
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(irq.rising_edges, 1);
    EXPECT_EQ(in(kIir), 0x02);
    EXPECT_FALSE(irq.level);
    // Each transmitted byte is a new THRE interrupt: a new edge for the IOAPIC.
    out(kThr, 'a');
    EXPECT_TRUE(irq.level);
    out(kThr, 'b'); // not acknowledged, but the write clears and re-raises it
    EXPECT_EQ(irq.rising_edges, 3);
    out(kIer, 0x00);
    EXPECT_FALSE(irq.level);
}

TEST_F(DevicesUartTest, ReceivedDataInterruptHasPriorityOverThre) {
    out(kMcr, 0x08);
    out(kIer, 0x03);
    EXPECT_EQ(in(kIir), 0x02);
    ASSERT_TRUE(uart.receive('k'));
    EXPECT_TRUE(irq.level);
    EXPECT_EQ(in(kLsr)&0x01, 0x01);
    out(kThr, '!'); // THRE pending as well
    EXPECT_EQ(in(kIir), 0x04);
    EXPECT_EQ(in(kThr), 'k');
    EXPECT_EQ(in(kLsr)&0x01, 0x00);
    EXPECT_EQ(in(kIir), 0x02); // then THRE
    EXPECT_EQ(in(kIir), 0x01);
    EXPECT_FALSE(irq.level);
    EXPECT_EQ(in(kThr), 0x00); // empty receiver
}

TEST_F(DevicesUartTest, FifoTriggerLevelAndTimeout) {
    out(kFcr, 0x41); // FIFO on, trigger level 4
    out(kIer, 0x01);
    ASSERT_TRUE(uart.receive('1'));
    ASSERT_TRUE(uart.receive('2'));
    EXPECT_EQ(in(kIir), 0xCC); // below the trigger: character timeout
    ASSERT_TRUE(uart.receive('3'));
    ASSERT_TRUE(uart.receive('4'));
    EXPECT_EQ(in(kIir), 0xC4);
    out(kFcr, 0x43); // clear the receive FIFO
    EXPECT_EQ(in(kLsr)&0x01, 0);
    EXPECT_EQ(in(kIir), 0xC1);
}

TEST_F(DevicesUartTest, ReceiveQueueHasAFixedCapacity) {
    for (size_t i = 0; i < Uart16550::kReceiveCapacity; ++i)
        ASSERT_TRUE(uart.receive(static_cast<uint8_t>(i)));
    EXPECT_FALSE(uart.receive(0xEE));
    EXPECT_EQ(uart.receive_queue_size(), Uart16550::kReceiveCapacity);
    for (size_t i = 0; i < Uart16550::kReceiveCapacity; ++i)
        ASSERT_EQ(in(kThr), static_cast<uint8_t>(i));
    EXPECT_TRUE(uart.receive(0xEE));
}

TEST_F(DevicesUartTest, LoopbackAsLinuxAutoconfigProbesIt) {
    const uint8_t saved = in(kMcr);
    out(kMcr, 0x10 | 0x0A); // loopback, RTS, OUT2
    EXPECT_EQ(in(kMsr)&0xF0, 0x90);
    out(kThr, 'L'); // comes back to the receiver, not to the console
    EXPECT_EQ(in(kLsr)&0x01, 0x01);
    EXPECT_EQ(in(kThr), 'L');
    EXPECT_TRUE(console_text().empty());
    EXPECT_FALSE(uart.receive('x')); // the line is disconnected in loopback
    out(kMcr, saved);
    // Back on the "cable": DSR returns (DTR was off in loopback), so DDSR is set once.
    EXPECT_EQ(in(kMsr), 0xB2);
    EXPECT_EQ(in(kMsr), 0xB0);
}

TEST_F(DevicesUartTest, ModemStatusInterruptFromLoopbackChanges) {
    out(kIer, 0x08);
    out(kMcr, 0x18); // loopback + OUT2 -> DCD, and CTS/DSR drop: deltas
    EXPECT_EQ(in(kIir), 0x00);
    EXPECT_FALSE(irq.level); // loopback disconnects the IRQ output
    const uint8_t msr = in(kMsr);
    EXPECT_EQ(msr & 0x0F, 0x03); // DCTS, DDSR (DCD stayed asserted)
    EXPECT_EQ(in(kIir), 0x01);
}

TEST_F(DevicesUartTest, ConnectingTheLineLaterRaisesPendingInterrupts) {
    ConsoleBuffer other_console;
    Uart16550 polled(kBase, "p", other_console, nullptr, &sink);
    polled.write(kBase + kMcr, 0x08);
    polled.write(kBase + kIer, 0x02);
    RecordingLine late;
    polled.connect_interrupt(late);
    EXPECT_TRUE(late.level);
    EXPECT_TRUE(polled.interrupt_asserted());
}

} // namespace
} // namespace halcyon::worker
