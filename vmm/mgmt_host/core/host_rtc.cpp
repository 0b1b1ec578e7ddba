#include "vmm/mgmt_host/core/host_rtc.hpp"

namespace halcyon::mgmt_host {
namespace {

constexpr uint8_t kCentury = 0x32;
// Bit 7 of the index port masks NMIs on a PC: the core's own choice (NMIs on) is kept.
constexpr uint8_t kIndexMask = 0x7F;

uint8_t read_cmos(uint8_t index) {
    uint8_t value;
    asm volatile("outb %0, $0x70" : : "a"(index));
    asm volatile("inb $0x71, %0" : "=a"(value));
    return value;
}

} // namespace

uint8_t HostRtc::read(uint16_t port) {
    if (port == kIndexPort)
        return index_;
    if (index_ <= 0x0D || index_ == kCentury)
        return read_cmos(index_);
    return 0;
}

void HostRtc::write(uint16_t port, uint8_t value) {
    if (port == kIndexPort)
        index_ = value & kIndexMask;
}

} // namespace halcyon::mgmt_host
