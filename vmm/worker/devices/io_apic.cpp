#include "vmm/worker/devices/io_apic.hpp"

namespace halcyon::worker {
namespace {

// Register indices behind IOWIN.
constexpr uint8_t kIdRegister = 0x00;
constexpr uint8_t kVersionRegister = 0x01;
constexpr uint8_t kArbitrationRegister = 0x02;
constexpr uint8_t kFirstRedirectionRegister = 0x10;

// Redirection entry fields.
constexpr uint64_t kVectorMask = 0xFF;
constexpr unsigned kDeliveryModeShift = 8;
constexpr uint64_t kLogicalDestination = 1ull << 11;
constexpr uint64_t kDeliveryStatus = 1ull << 12;
constexpr uint64_t kActiveLow = 1ull << 13;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kLevelTriggered = 1ull << 15;
constexpr uint64_t kMasked = 1ull << 16;
constexpr unsigned kDestinationShift = 56;
// What a guest may write in the low dword: everything but delivery status and remote IRR.
constexpr uint32_t kWritableLow = 0x0001'AFFF;

constexpr uint32_t bit(unsigned pin) {
    return 1u << pin;
}

} // namespace

IoApic::IoApic(uint8_t id, MsiTarget& target, uint32_t active_low_wires)
    : target_(&target), id_(id & 0x0F), pin_levels_(active_low_wires), was_asserted_(0) {
    for (unsigned pin = 0; pin < kPins; ++pin) {
        entries_[pin] = kMasked; // every entry masked at reset
        lines_[pin].io_apic = this;
        lines_[pin].pin = pin;
        lines_[pin].active_low = (active_low_wires & bit(pin)) != 0;
        if (asserted(pin))
            was_asserted_ |= bit(pin);
    }
}

void IoApic::PinLine::set_level(bool asserted_by_device) {
    io_apic->set_irq(pin, asserted_by_device != active_low);
}

uint64_t IoApic::mmio_read(uint64_t offset, unsigned size) {
    const uint64_t dword_offset = offset & ~uint64_t{3};
    uint32_t dword = 0;
    if (dword_offset == kRegisterSelect)
        dword = register_select_;
    else if (dword_offset == kWindow)
        dword = read_register(register_select_);
    // The EOI register is write-only; everything else in the page reads as zero.
    const uint64_t value = dword >> (8 * (offset & 3));
    return size >= 4 ? value : value & ((uint64_t{1} << (8 * size)) - 1);
}

void IoApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
    const uint64_t dword_offset = offset & ~uint64_t{3};
    const unsigned shift = 8 * static_cast<unsigned>(offset & 3);
    if (dword_offset == kRegisterSelect) {
        if (shift == 0)
            register_select_ = static_cast<uint8_t>(value);
    } else if (dword_offset == kWindow) {
        // Narrow writes replace only their bytes of the selected register.
        const uint32_t mask =
            size >= 4 ? 0xFFFF'FFFFu : static_cast<uint32_t>(((1ull << (8 * size)) - 1) << shift);
        const uint32_t old = read_register(register_select_);
        const auto updated = static_cast<uint32_t>((old & ~mask) | ((value << shift) & mask));
        write_register(register_select_, updated);
    } else if (dword_offset == kEoi && shift == 0) {
        end_of_interrupt(static_cast<uint8_t>(value));
    }
}

uint32_t IoApic::read_register(uint8_t index) const {
    switch (index) {
    case kIdRegister:
    case kArbitrationRegister: // the arbitration ID is loaded from the ID
        return static_cast<uint32_t>(id_) << 24;
    case kVersionRegister:
        return kVersion;
    default:
        break;
    }
    if (index >= kFirstRedirectionRegister && index < kFirstRedirectionRegister + 2 * kPins) {
        const uint64_t entry = entries_[(index - kFirstRedirectionRegister) / 2];
        return static_cast<uint32_t>(index % 2 == 0 ? entry : entry >> 32);
    }
    return 0;
}

void IoApic::write_register(uint8_t index, uint32_t value) {
    if (index == kIdRegister) {
        id_ = static_cast<uint8_t>((value >> 24) & 0x0F);
        return;
    }
    if (index < kFirstRedirectionRegister || index >= kFirstRedirectionRegister + 2 * kPins)
        return; // version and arbitration are read-only
    const unsigned pin = (index - kFirstRedirectionRegister) / 2;
    if (index % 2 == 1) {
        // Only the destination field exists in the high dword; a new destination takes effect
        // with the next delivery.
        entries_[pin] = (entries_[pin] & 0xFFFF'FFFF) | (uint64_t{value & 0xFF000000u} << 32);
        return;
    }
    write_entry_low(pin, value);
}

void IoApic::write_entry_low(unsigned pin, uint32_t value) {
    uint64_t entry = (entries_[pin] & ~uint64_t{kWritableLow}) | (value & kWritableLow);
    // Remote IRR only means something for level-triggered entries: switching to edge clears
    // it (older OSes clear a stuck remote IRR this way, Linux among them on IOAPICs < 0x20).
    if ((entry & kLevelTriggered) == 0)
        entry &= ~kRemoteIrr;
    entries_[pin] = entry & ~kDeliveryStatus;
    // A polarity change moves the asserted state without being an edge from a device.
    if (asserted(pin))
        was_asserted_ |= bit(pin);
    else
        was_asserted_ &= ~bit(pin);
    try_deliver_level(pin); // e.g. unmasking a level pin that is already asserted
}

bool IoApic::asserted(unsigned pin) const {
    const bool level = (pin_levels_ & bit(pin)) != 0;
    const bool active_low = (entries_[pin] & kActiveLow) != 0;
    return level != active_low;
}

void IoApic::set_irq(unsigned pin, bool level) {
    if (pin >= kPins)
        return;
    if (level)
        pin_levels_ |= bit(pin);
    else
        pin_levels_ &= ~bit(pin);
    const bool now_asserted = asserted(pin);
    const bool before = (was_asserted_ & bit(pin)) != 0;
    if (now_asserted)
        was_asserted_ |= bit(pin);
    else
        was_asserted_ &= ~bit(pin);

    const uint64_t entry = entries_[pin];
    if (entry & kLevelTriggered) {
        try_deliver_level(pin);
    } else if (now_asserted && !before && (entry & kMasked) == 0) {
        deliver(pin); // edge: only the asserting transition counts, and a masked edge is lost
    }
}

void IoApic::try_deliver_level(unsigned pin) {
    const uint64_t entry = entries_[pin];
    if ((entry & kLevelTriggered) == 0 || (entry & (kMasked | kRemoteIrr)) != 0 || !asserted(pin))
        return;
    entries_[pin] |= kRemoteIrr; // until the EOI for this vector comes back
    deliver(pin);
}

void IoApic::end_of_interrupt(uint8_t vector) {
    for (unsigned pin = 0; pin < kPins; ++pin) {
        const uint64_t entry = entries_[pin];
        if ((entry & kLevelTriggered) == 0 || (entry & kRemoteIrr) == 0 ||
            (entry & kVectorMask) != vector)
            continue;
        entries_[pin] &= ~kRemoteIrr;
        try_deliver_level(pin); // still asserted: the device wants service again
    }
}

void IoApic::deliver(unsigned pin) {
    const uint64_t entry = entries_[pin];
    const InterruptMessage message{
        .destination = static_cast<uint32_t>(entry >> kDestinationShift),
        .logical = (entry & kLogicalDestination) != 0,
        .delivery_mode = static_cast<uint8_t>((entry >> kDeliveryModeShift) & 7),
        .vector = static_cast<uint8_t>(entry & kVectorMask),
        .level_triggered = (entry & kLevelTriggered) != 0,
    };
    target_->deliver(message);
}

} // namespace halcyon::worker
