#include "vmm/worker/uart16550.hpp"

#include "vmm/core/log.hpp"

namespace halcyon::worker {
namespace {

// Register offsets from the base port.
constexpr uint16_t kData = 0;            // RBR/THR, or divisor low with DLAB
constexpr uint16_t kInterruptEnable = 1; // or divisor high with DLAB
constexpr uint16_t kInterruptId = 2;     // read: IIR, write: FCR
constexpr uint16_t kLineControl = 3;
constexpr uint16_t kModemControl = 4;
constexpr uint16_t kLineStatus = 5;
constexpr uint16_t kModemStatus = 6;
constexpr uint16_t kScratch = 7;

constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrTransmitterEmpty = 0x60; // THRE | TEMT
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirFifosEnabled = 0xC0;
constexpr uint8_t kMsrCarrierDsrCts = 0xB0;

} // namespace

uint8_t Uart16550::read(uint16_t port) {
    const bool dlab = (line_control_ & kLcrDlab) != 0;
    switch (port - base_) {
    case kData:
        return dlab ? static_cast<uint8_t>(divisor_) : 0; // nothing is ever received
    case kInterruptEnable:
        return dlab ? static_cast<uint8_t>(divisor_ >> 8) : interrupt_enable_;
    case kInterruptId:
        return kIirNoInterrupt | ((fifo_control_ & 1) ? kIirFifosEnabled : 0);
    case kLineControl:
        return line_control_;
    case kModemControl:
        return modem_control_;
    case kLineStatus:
        return kLsrTransmitterEmpty;
    case kModemStatus:
        return kMsrCarrierDsrCts;
    case kScratch:
        return scratch_;
    }
    return 0xFF;
}

void Uart16550::write(uint16_t port, uint8_t value) {
    const bool dlab = (line_control_ & kLcrDlab) != 0;
    switch (port - base_) {
    case kData:
        if (dlab)
            divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | value);
        else
            output(value);
        break;
    case kInterruptEnable:
        if (dlab)
            divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (value << 8));
        else
            interrupt_enable_ = value & 0x0F;
        break;
    case kInterruptId:
        fifo_control_ = value;
        break;
    case kLineControl:
        line_control_ = value;
        break;
    case kModemControl:
        modem_control_ = value & 0x1F;
        break;
    case kScratch:
        scratch_ = value;
        break;
    default:
        break; // LSR and MSR are read-only
    }
}

void Uart16550::output(uint8_t byte) {
    console_->append(byte);
    if (byte == '\r')
        return;
    if (byte == '\n') {
        flush();
        return;
    }
    // Control characters would garble the host log; show them as '?'.
    line_[line_length_++] =
        (byte >= 0x20 && byte < 0x7F) || byte == '\t' ? static_cast<char>(byte) : '?';
    if (line_length_ == sizeof(line_) - 1)
        flush();
}

void Uart16550::flush() {
    if (line_length_ == 0)
        return;
    line_[line_length_] = '\0';
    log::plain_line("[vm %s] %s", vm_name_, line_);
    line_length_ = 0;
}

} // namespace halcyon::worker
