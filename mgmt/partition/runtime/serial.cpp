#include "mgmt/partition/runtime/serial.hpp"

#include <stdint.h>

namespace halcyon::mgmt::partition {
namespace {

constexpr uint16_t kCom1 = 0x3F8;
constexpr uint16_t kLineStatus = kCom1 + 5;
constexpr uint8_t kTransmitHoldingEmpty = 1u << 5;
// An emulated UART is always ready; the bound keeps a wedged model from hanging a crash report.
constexpr int kReadyPolls = 100000;

uint8_t inb(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

void outb(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

} // namespace

void serial_write(const char* text, size_t length) {
    for (size_t i = 0; i < length; ++i) {
        for (int poll = 0; poll < kReadyPolls && (inb(kLineStatus) & kTransmitHoldingEmpty) == 0;
             ++poll)
            asm volatile("pause");
        outb(kCom1, static_cast<uint8_t>(text[i]));
    }
}

} // namespace halcyon::mgmt::partition
