#include "vmm/worker/devices/pic8259.hpp"

#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/devices/port_bytes.hpp"

namespace halcyon::worker {
namespace {

constexpr uint8_t kIcw1 = 0x10;
constexpr uint8_t kIcw1NeedsIcw4 = 0x01;
constexpr uint8_t kIcw1Single = 0x02;
constexpr uint8_t kIcw1LevelTriggered = 0x08;
constexpr uint8_t kOcw3 = 0x08;
constexpr uint8_t kOcw3ReadRegister = 0x02;
constexpr uint8_t kOcw3ReadIsr = 0x01;
constexpr uint8_t kOcw3Poll = 0x04;
constexpr uint8_t kOcw3SetSpecialMask = 0x40;
constexpr uint8_t kOcw3SpecialMask = 0x20;
constexpr unsigned kCascadeLine = 2;
// ELCR bits that must stay edge: IRQ 0, 1, 2 (timer, keyboard, cascade), 8 and 13.
constexpr uint16_t kElcrWritable = 0xDEF8;

constexpr uint8_t bit(unsigned line) {
    return static_cast<uint8_t>(1u << line);
}

} // namespace

void Pic8259::write_command(uint8_t value) {
    if (value & kIcw1) {
        // ICW1 starts initialisation: masks, in-service bits and edge latches are cleared,
        // IR7 gets the lowest priority, IRR is the register selected for reading.
        icw1_ = value;
        init_step_ = 2;
        imr_ = 0;
        isr_ = 0;
        irr_ &= (value & kIcw1LevelTriggered) ? inputs_ : 0;
        lowest_priority_ = 7;
        read_isr_ = false;
        poll_ = false;
        special_mask_ = false;
        rotate_in_auto_eoi_ = false;
        if ((value & kIcw1NeedsIcw4) == 0)
            icw4_ = 0;
        return;
    }
    if (value & kOcw3) {
        if (value & kOcw3ReadRegister)
            read_isr_ = (value & kOcw3ReadIsr) != 0;
        if (value & kOcw3SetSpecialMask)
            special_mask_ = (value & kOcw3SpecialMask) != 0;
        poll_ = (value & kOcw3Poll) != 0;
        return;
    }
    // OCW2: R (bit 7), SL (bit 6), EOI (bit 5); level in bits 0-2.
    const int level = value & 7;
    switch (value >> 5) {
    case 1: // non-specific EOI
        end_of_interrupt(highest_in_service(), false);
        break;
    case 3: // specific EOI
        end_of_interrupt(level, false);
        break;
    case 5: // rotate on non-specific EOI
        end_of_interrupt(highest_in_service(), true);
        break;
    case 7: // rotate on specific EOI
        end_of_interrupt(level, true);
        break;
    case 4: // set rotate in automatic EOI mode
        rotate_in_auto_eoi_ = true;
        break;
    case 0: // clear rotate in automatic EOI mode
        rotate_in_auto_eoi_ = false;
        break;
    case 6: // set priority: `level` becomes the lowest
        lowest_priority_ = static_cast<uint8_t>(level);
        break;
    default: // 2: no operation
        break;
    }
}

void Pic8259::write_data(uint8_t value) {
    switch (init_step_) {
    case 2:
        vector_base_ = value & 0xF8;
        vector_base_set_ = true;
        init_step_ = (icw1_ & kIcw1Single) == 0 ? 3 : (icw1_ & kIcw1NeedsIcw4) ? 4 : 0;
        return;
    case 3:
        icw3_ = value;
        init_step_ = (icw1_ & kIcw1NeedsIcw4) ? 4 : 0;
        return;
    case 4:
        icw4_ = value;
        init_step_ = 0;
        return;
    default:
        imr_ = value; // OCW1
        return;
    }
}

uint8_t Pic8259::read_command() {
    if (poll_) {
        // Poll: the read acts as an interrupt acknowledge; bit 7 tells whether one was pending.
        poll_ = false;
        const int level = acknowledge();
        return level < 0 ? 0 : static_cast<uint8_t>(0x80 | level);
    }
    return read_isr_ ? isr_ : irr_;
}

void Pic8259::set_input(unsigned line, bool level, bool level_sensitive) {
    const uint8_t mask = bit(line);
    const bool was = (inputs_ & mask) != 0;
    inputs_ = level ? inputs_ | mask : inputs_ & ~mask;
    const bool level_mode = level_sensitive || (icw1_ & kIcw1LevelTriggered) != 0;
    if (level_mode)
        irr_ = level ? irr_ | mask : irr_ & ~mask;
    else if (level && !was)
        irr_ |= mask; // edge: a rising edge sets the request...
    else if (!level)
        irr_ &= ~mask; // ...which must stay high until acknowledged (else: spurious IR7)
}

int Pic8259::highest_in_service() const {
    for (unsigned i = 1; i <= 8; ++i) {
        const unsigned line = (lowest_priority_ + i) % 8;
        if (isr_ & bit(line))
            return static_cast<int>(line);
    }
    return -1;
}

int Pic8259::pending() const {
    const uint8_t requests = irr_ & ~imr_;
    for (unsigned i = 1; i <= 8; ++i) {
        const unsigned line = (lowest_priority_ + i) % 8;
        // Any interrupt in service at this or a higher priority blocks the request, except in
        // special mask mode, where a masked level's in-service bit does not.
        if (isr_ & bit(line) & (special_mask_ ? ~imr_ : 0xFF))
            return -1;
        if (requests & bit(line))
            return static_cast<int>(line);
    }
    return -1;
}

int Pic8259::acknowledge() {
    const int level = pending();
    if (level < 0)
        return -1;
    const uint8_t mask = bit(static_cast<unsigned>(level));
    if ((icw1_ & kIcw1LevelTriggered) == 0)
        irr_ &= ~mask;
    if (auto_eoi()) {
        if (rotate_in_auto_eoi_)
            lowest_priority_ = static_cast<uint8_t>(level);
    } else {
        isr_ |= mask;
    }
    return level;
}

void Pic8259::end_of_interrupt(int level, bool rotate) {
    if (level < 0)
        return;
    isr_ &= ~bit(static_cast<unsigned>(level));
    if (rotate)
        lowest_priority_ = static_cast<uint8_t>(level);
}

bool DualPic8259::claims(uint16_t port) const {
    return port == platform::kPicMasterBase || port == platform::kPicMasterBase + 1 ||
           port == platform::kPicSlaveBase || port == platform::kPicSlaveBase + 1 ||
           port == platform::kElcrBase || port == platform::kElcrBase + 1;
}

uint32_t DualPic8259::read(uint16_t port, uint8_t size, uint64_t now) {
    return read_port_bytes(*this, port, size, now);
}

void DualPic8259::write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    write_port_bytes(*this, port, size, value, now);
}

uint8_t DualPic8259::read_byte(uint16_t port, uint64_t) {
    switch (port) {
    case platform::kPicMasterBase:
        return master_.read_command();
    case platform::kPicMasterBase + 1:
        return master_.read_data();
    case platform::kPicSlaveBase: {
        const uint8_t value = slave_.read_command();
        update_cascade(); // a slave poll may have acknowledged its request
        return value;
    }
    case platform::kPicSlaveBase + 1:
        return slave_.read_data();
    case platform::kElcrBase:
        return static_cast<uint8_t>(elcr_);
    case platform::kElcrBase + 1:
        return static_cast<uint8_t>(elcr_ >> 8);
    default:
        return 0xFF;
    }
}

void DualPic8259::write_byte(uint16_t port, uint8_t value, uint64_t) {
    switch (port) {
    case platform::kPicMasterBase:
        master_.write_command(value);
        break;
    case platform::kPicMasterBase + 1:
        master_.write_data(value);
        break;
    case platform::kPicSlaveBase:
        slave_.write_command(value);
        break;
    case platform::kPicSlaveBase + 1:
        slave_.write_data(value);
        break;
    case platform::kElcrBase:
        elcr_ = static_cast<uint16_t>((elcr_ & 0xFF00) | (value & kElcrWritable));
        break;
    case platform::kElcrBase + 1:
        elcr_ = static_cast<uint16_t>((elcr_ & 0x00FF) | ((value << 8) & kElcrWritable));
        break;
    default:
        break;
    }
    update_cascade();
}

void DualPic8259::set_irq(unsigned irq, bool level) {
    if (irq >= 16 || irq == kCascadeLine)
        return; // IRQ2 is the cascade input, driven by the slave
    const bool level_sensitive = (elcr_ & (1u << irq)) != 0;
    if (irq < 8)
        master_.set_input(irq, level, level_sensitive);
    else
        slave_.set_input(irq - 8, level, level_sensitive);
    update_cascade();
}

void DualPic8259::update_cascade() {
    // The slave's INT output drives master IR2 (edge-sensitive on PCs).
    master_.set_input(kCascadeLine, slave_.pending() >= 0, false);
}

} // namespace halcyon::worker
