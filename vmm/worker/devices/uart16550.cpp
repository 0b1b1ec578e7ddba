#include "vmm/worker/devices/uart16550.hpp"

#include "vmm/worker/devices/port_bytes.hpp"

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

constexpr uint8_t kIerReceivedData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerModemStatus = 0x08;

constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirReceivedData = 0x04;
constexpr uint8_t kIirCharacterTimeout = 0x0C;
constexpr uint8_t kIirFifosEnabled = 0xC0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearReceiver = 0x02;
constexpr uint8_t kFcrTriggerMask = 0xC0;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrTransmitterEmpty = 0x60; // THRE | TEMT

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoopback = 0x10;

constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
// Outside loopback the "cable" reports the other end present and ready.
constexpr uint8_t kMsrConnected = kMsrCts | kMsrDsr | kMsrDcd;

// Receive FIFO trigger levels selected by FCR bits 6-7.
constexpr size_t kTriggerLevels[4] = {1, 4, 8, 14};

} // namespace

void Uart16550::connect_interrupt(InterruptLine& irq) {
    irq_ = &irq;
    irq_level_ = false;
    update_interrupt();
}

bool Uart16550::loopback() const {
    return (modem_control_ & kMcrLoopback) != 0;
}

uint8_t Uart16550::modem_inputs() const {
    if (!loopback())
        return kMsrConnected;
    // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
    uint8_t inputs = 0;
    inputs |= (modem_control_ & kMcrRts) ? kMsrCts : 0;
    inputs |= (modem_control_ & kMcrDtr) ? kMsrDsr : 0;
    inputs |= (modem_control_ & kMcrOut1) ? kMsrRi : 0;
    inputs |= (modem_control_ & kMcrOut2) ? kMsrDcd : 0;
    return inputs;
}

uint8_t Uart16550::interrupt_identification() const {
    const uint8_t fifo_bits = fifo_enabled() ? kIirFifosEnabled : 0;
    // Line status (priority 1) never pends: there are no receive errors.
    if ((interrupt_enable_ & kIerReceivedData) && rx_count_ > 0) {
        const size_t trigger = fifo_enabled() ? kTriggerLevels[fifo_control_ >> 6] : 1;
        return fifo_bits | (rx_count_ >= trigger ? kIirReceivedData : kIirCharacterTimeout);
    }
    if ((interrupt_enable_ & kIerThrEmpty) && thr_empty_pending_)
        return fifo_bits | kIirThrEmpty;
    if ((interrupt_enable_ & kIerModemStatus) && modem_status_deltas_ != 0)
        return fifo_bits | kIirModemStatus;
    return fifo_bits | kIirNoInterrupt;
}

uint8_t Uart16550::read(uint16_t port) {
    const bool dlab = (line_control_ & kLcrDlab) != 0;
    uint8_t value = 0xFF;
    switch (port - base_) {
    case kData:
        value = dlab ? static_cast<uint8_t>(divisor_) : pop_received();
        break;
    case kInterruptEnable:
        value = dlab ? static_cast<uint8_t>(divisor_ >> 8) : interrupt_enable_;
        break;
    case kInterruptId:
        value = interrupt_identification();
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        if ((value & 0x0F) == kIirThrEmpty)
            thr_empty_pending_ = false;
        break;
    case kLineControl:
        value = line_control_;
        break;
    case kModemControl:
        value = modem_control_;
        break;
    case kLineStatus:
        value = static_cast<uint8_t>(kLsrTransmitterEmpty | (rx_count_ > 0 ? kLsrDataReady : 0));
        break;
    case kModemStatus:
        value = static_cast<uint8_t>(modem_inputs() | modem_status_deltas_);
        modem_status_deltas_ = 0;
        break;
    case kScratch:
        value = scratch_;
        break;
    default:
        break;
    }
    update_interrupt();
    return value;
}

void Uart16550::write(uint16_t port, uint8_t value) {
    const bool dlab = (line_control_ & kLcrDlab) != 0;
    switch (port - base_) {
    case kData:
        if (dlab)
            divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | value);
        else
            transmit(value);
        break;
    case kInterruptEnable:
        if (dlab) {
            divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (value << 8));
        } else {
            // The 16550A quirk OSes test for: enabling THRI while the transmitter is empty
            // raises THR-empty again, even if it was acknowledged before.
            if ((value & kIerThrEmpty) && !(interrupt_enable_ & kIerThrEmpty))
                thr_empty_pending_ = true;
            interrupt_enable_ = value & 0x0F;
        }
        break;
    case kInterruptId: {
        const bool was_enabled = fifo_enabled();
        fifo_control_ = value & (kFcrEnable | kFcrTriggerMask);
        // Clearing the receive FIFO, or switching FIFO mode, discards received bytes.
        if ((value & kFcrClearReceiver) || was_enabled != fifo_enabled())
            rx_count_ = 0;
        break;
    }
    case kLineControl:
        line_control_ = value;
        break;
    case kModemControl:
        write_modem_control(value & 0x1F);
        break;
    case kScratch:
        scratch_ = value;
        break;
    default:
        break; // LSR and MSR are read-only
    }
    update_interrupt();
}

uint32_t Uart16550::read(uint16_t port, uint8_t size, uint64_t now) {
    return read_port_bytes(*this, port, size, now);
}

void Uart16550::write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    write_port_bytes(*this, port, size, value, now);
}

void Uart16550::write_modem_control(uint8_t value) {
    const uint8_t before = modem_inputs();
    modem_control_ = value;
    const uint8_t after = modem_inputs();
    const uint8_t changed = before ^ after;
    // MSR deltas: DCTS, DDSR, TERI (RI went inactive), DDCD.
    uint8_t deltas = 0;
    deltas |= (changed & kMsrCts) ? 0x01 : 0;
    deltas |= (changed & kMsrDsr) ? 0x02 : 0;
    deltas |= ((before & kMsrRi) && !(after & kMsrRi)) ? 0x04 : 0;
    deltas |= (changed & kMsrDcd) ? 0x08 : 0;
    modem_status_deltas_ |= deltas;
}

void Uart16550::transmit(uint8_t byte) {
    // Writing THR clears THR-empty; the byte leaves at once and THR is empty again, which is
    // a fresh interrupt: drop the line first so an edge-triggered input sees it.
    thr_empty_pending_ = false;
    update_interrupt();
    if (loopback())
        (void)push_received(byte);
    else
        output(byte);
    thr_empty_pending_ = true;
}

bool Uart16550::receive(uint8_t byte) {
    if (loopback())
        return false; // the receiver listens to the transmitter in loopback
    const bool accepted = push_received(byte);
    update_interrupt();
    return accepted;
}

bool Uart16550::push_received(uint8_t byte) {
    if (rx_count_ == kReceiveCapacity)
        return false;
    rx_[(rx_head_ + rx_count_) % kReceiveCapacity] = byte;
    ++rx_count_;
    return true;
}

uint8_t Uart16550::pop_received() {
    if (rx_count_ == 0)
        return 0;
    const uint8_t byte = rx_[rx_head_];
    rx_head_ = (rx_head_ + 1) % kReceiveCapacity;
    --rx_count_;
    return byte;
}

void Uart16550::update_interrupt() {
    const bool gated_on = (modem_control_ & kMcrOut2) != 0 && !loopback();
    const bool level = gated_on && (interrupt_identification() & kIirNoInterrupt) == 0;
    if (level == irq_level_ || irq_ == nullptr)
        return;
    irq_level_ = level;
    irq_->set_level(level);
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
    lines_->line(vm_name_, line_);
    line_length_ = 0;
}

} // namespace halcyon::worker
