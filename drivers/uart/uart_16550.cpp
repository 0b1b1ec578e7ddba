#include "drivers/uart/uart_16550.hpp"

#include "vmm/arch/x86_64/cpu.hpp"

namespace halcyon::drivers {
namespace {

// Register offsets from the base port (with LCR.DLAB = 0 unless noted).
constexpr uint16_t kData = 0;            // THR on write, RBR on read; divisor low when DLAB=1
constexpr uint16_t kInterruptEnable = 1; // divisor high when DLAB=1
constexpr uint16_t kFifoControl = 2;
constexpr uint16_t kLineControl = 3;
constexpr uint16_t kModemControl = 4;
constexpr uint16_t kLineStatus = 5;
constexpr uint16_t kScratch = 7;

constexpr uint8_t kLineControlDlab = 0x80;
constexpr uint8_t kLineControl8N1 = 0x03;
constexpr uint8_t kFifoEnableAndClear = 0x07; // enable, clear RX and TX FIFOs
constexpr uint8_t kModemDtrRts = 0x03;
constexpr uint8_t kLineStatusTransmitEmpty = 0x20; // THR can take a byte

// Polls of the line status register before a byte is given up. At 115200 baud one byte takes
// ~87 us; a port read takes ~1 us on hardware, so this allows for ~a dozen byte times even on
// slow baud rates' worst case while bounding a dead port to well under a second per line
// (after the first timeout the port is declared unusable, so the cost is paid once).
constexpr uint32_t kTransmitPollLimit = 200'000;

} // namespace

ErrorOr<void> Uart16550::init(uint16_t io_port, uint32_t baud) {
    usable_ = false;
    io_port_ = io_port;
    if (baud == 0 || baud > kClockRate || kClockRate % baud != 0)
        return Error(ErrorCode::invalid_argument, "baud rate must divide 115200");

    // An absent UART reads back 0xFF from every register; the scratch register holds whatever was
    // written to a real one.
    for (uint8_t probe : {uint8_t{0x5A}, uint8_t{0xA5}}) {
        x86::out8(io_port + kScratch, probe);
        if (x86::in8(io_port + kScratch) != probe)
            return Error(ErrorCode::not_found, "no UART answers at this I/O port");
    }

    auto divisor = static_cast<uint16_t>(kClockRate / baud);
    x86::out8(io_port + kInterruptEnable, 0); // polled: no UART interrupts
    x86::out8(io_port + kLineControl, kLineControlDlab);
    x86::out8(io_port + kData, static_cast<uint8_t>(divisor));
    x86::out8(io_port + kInterruptEnable, static_cast<uint8_t>(divisor >> 8));
    x86::out8(io_port + kLineControl, kLineControl8N1);
    x86::out8(io_port + kFifoControl, kFifoEnableAndClear);
    x86::out8(io_port + kModemControl, kModemDtrRts);
    usable_ = true;
    return {};
}

void Uart16550::transmit(uint8_t byte) {
    for (uint32_t i = 0; i < kTransmitPollLimit; ++i) {
        if (x86::in8(io_port_ + kLineStatus) & kLineStatusTransmitEmpty) {
            x86::out8(io_port_ + kData, byte);
            return;
        }
        x86::pause();
    }
    // The transmitter never drained: the port is disconnected or broken. Stop using it rather
    // than stalling every future line.
    usable_ = false;
}

void Uart16550::put(char c) {
    if (!usable_)
        return;
    if (c == '\n')
        transmit('\r');
    transmit(static_cast<uint8_t>(c));
}

void Uart16550::write(const char* text, size_t length) {
    for (size_t i = 0; i < length && usable_; ++i)
        put(text[i]);
}

void Uart16550::write(const char* text) {
    for (; *text && usable_; ++text)
        put(*text);
}

} // namespace halcyon::drivers
