// VirtualLapic register semantics shared by both modes, the xAPIC MMIO interface, and IPI
// sending. The x2APIC MSR interface is in vlapic_msr.cpp.
#include "vmm/lapic/vlapic.hpp"

namespace halcyon::vmm::lapic {

namespace {

bool in_block(uint32_t offset, uint32_t first) {
    return offset >= first && offset < first + 8 * 16;
}

bool is_lvt(uint32_t offset) {
    return offset >= offset::lvt_first && offset <= offset::lvt_last;
}

Lvt lvt_at(uint32_t offset) {
    return static_cast<Lvt>((offset - offset::lvt_first) / 16);
}

// Registers an xAPIC write may target without effect (defined, read-only).
bool xapic_read_only(uint32_t offset) {
    switch (offset) {
    case offset::id:
    case offset::version:
    case offset::apr:
    case offset::ppr:
    case offset::rrd:
    case offset::timer_current:
        return true;
    default:
        return in_block(offset, offset::isr) || in_block(offset, offset::tmr) ||
               in_block(offset, offset::irr);
    }
}

} // namespace

bool VirtualLapic::read_common(uint32_t offset, uint64_t now, uint32_t& value) const {
    if (in_block(offset, offset::isr)) {
        value = isr_.dword((offset - offset::isr) / 16);
    } else if (in_block(offset, offset::tmr)) {
        value = tmr_.dword((offset - offset::tmr) / 16);
    } else if (in_block(offset, offset::irr)) {
        value = irr_.dword((offset - offset::irr) / 16);
    } else if (is_lvt(offset)) {
        value = lvt(lvt_at(offset));
    } else {
        switch (offset) {
        case offset::version:
            value = kVersion;
            break;
        case offset::tpr:
            value = tpr_;
            break;
        case offset::ppr:
            value = processor_priority();
            break;
        case offset::svr:
            value = svr_;
            break;
        case offset::esr:
            value = esr_;
            break;
        case offset::timer_initial:
            value = timer_.initial_count();
            break;
        case offset::timer_current:
            value = timer_.current_count(now);
            break;
        case offset::timer_divide:
            value = timer_.divide_configuration();
            break;
        default:
            return false;
        }
    }
    return true;
}

void VirtualLapic::write_svr(uint32_t value) {
    svr_ = value & svr::writable;
    if (!software_enabled()) {
        // SDM: software disable sets every LVT mask bit (and keeps them set, see write_lvt).
        for (uint32_t& entry : lvt_) {
            entry |= lvt::mask;
        }
    }
}

void VirtualLapic::write_lvt(Lvt entry, uint32_t value, uint64_t now) {
    const unsigned index = static_cast<unsigned>(entry);
    value &= kLvtWritable[index];
    if (!software_enabled()) {
        value |= lvt::mask;
    }
    if (entry == Lvt::timer) {
        // Expiries up to `now` happen under the old mask and mode (callers ran update(now)).
        timer_.set_mode(static_cast<TimerMode>((value & lvt::timer_mode) >> lvt::timer_mode_shift));
    }
    lvt_[index] = value;
}

void VirtualLapic::write_esr() {
    // SDM: a write (of any value in xAPIC mode) latches the errors collected since the previous
    // write into the readable register and starts collecting anew.
    esr_ = esr_pending_;
    esr_pending_ = 0;
}

void VirtualLapic::send(uint64_t icr_value, LapicBus& bus) {
    const Ipi ipi = decode_icr(icr_value, x2apic(), apic_id_);
    switch (ipi.mode) {
    case DeliveryMode::fixed:
    case DeliveryMode::lowest_priority:
        if (ipi.vector < 16) {
            record_error(esr::send_illegal_vector);
            return;
        }
        break;
    case DeliveryMode::smi:
    case DeliveryMode::nmi:
    case DeliveryMode::startup:
        break;
    case DeliveryMode::init:
        if (!ipi.level_assert && ipi.level_triggered) {
            return; // INIT level de-assert: only resynchronized arbitration IDs, a no-op here
        }
        break;
    default:
        return; // reserved delivery modes 3 and 7
    }
    if (ipi.shorthand == Ipi::self) {
        // SDM "Valid Combinations for the ICR": only fixed is valid with the self shorthand.
        if (ipi.mode == DeliveryMode::fixed) {
            accept(ipi.vector, ipi.level_triggered);
        }
        return;
    }
    if (ipi.shorthand == Ipi::all_including_self && ipi.mode == DeliveryMode::startup) {
        return; // invalid combination
    }
    bus.send_ipi(ipi);
}

uint32_t VirtualLapic::mmio_read(uint32_t offset, uint64_t now) {
    if (mode_ != Mode::xapic) {
        return 0; // x2APIC mode and global disable turn the MMIO interface off
    }
    update(now);
    if ((offset & 0xF) != 0 || offset > offset::self_ipi) {
        return 0;
    }
    uint32_t value = 0;
    if (read_common(offset, now, value)) {
        return value;
    }
    switch (offset) {
    case offset::id:
        return apic_id_ << 24;
    case offset::apr:
        return arbitration_priority();
    case offset::eoi: // write-only
    case offset::rrd: // remote read is not supported: always "invalid"
        return 0;
    case offset::ldr:
        return ldr_;
    case offset::dfr:
        return dfr_ | dfr::reserved_ones;
    case offset::icr_low:
        return static_cast<uint32_t>(icr_); // delivery status (bit 12) always idle
    case offset::icr_high:
        return static_cast<uint32_t>(icr_ >> 32);
    default:
        record_error(esr::illegal_register);
        return 0;
    }
}

void VirtualLapic::mmio_write(uint32_t offset, uint32_t value, uint64_t now, LapicBus& bus) {
    if (mode_ != Mode::xapic) {
        return;
    }
    update(now);
    if ((offset & 0xF) != 0 || offset > offset::self_ipi) {
        return;
    }
    if (is_lvt(offset)) {
        write_lvt(lvt_at(offset), value, now);
        return;
    }
    switch (offset) {
    case offset::tpr:
        tpr_ = static_cast<uint8_t>(value);
        return;
    case offset::eoi:
        end_of_interrupt(bus);
        return;
    case offset::ldr:
        ldr_ = value & 0xFF000000;
        return;
    case offset::dfr:
        dfr_ = value & ~dfr::reserved_ones;
        return;
    case offset::svr:
        write_svr(value);
        return;
    case offset::esr:
        write_esr();
        return;
    case offset::icr_low:
        // Writing the low dword sends; the high dword (destination) was written before.
        icr_ = (icr_ & 0xFFFFFFFF00000000ull) | (value & icr::low_writable);
        send(icr_, bus);
        return;
    case offset::icr_high:
        icr_ = (icr_ & 0xFFFFFFFFull) | (static_cast<uint64_t>(value & icr::high_writable) << 32);
        return;
    case offset::timer_initial:
        timer_.set_initial_count(value, now);
        return;
    case offset::timer_divide:
        timer_.set_divide_configuration(value, now);
        return;
    default:
        if (!xapic_read_only(offset)) {
            record_error(esr::illegal_register);
        }
        return;
    }
}

} // namespace halcyon::vmm::lapic
