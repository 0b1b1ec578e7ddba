// VirtualLapic MSR interface: IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC registers
// (SDM "x2APIC Register Address Space": reserved MSRs, reserved bits, reads of write-only and
// writes of read-only registers all raise #GP).
#include "vmm/lapic/vlapic.hpp"

namespace halcyon::vmm::lapic {

namespace {

uint32_t x2apic_offset(uint32_t msr) {
    return (msr - msr::x2apic_first) << 4;
}

} // namespace

bool VirtualLapic::claims_msr(uint32_t msr) {
    return msr == msr::apic_base || msr == msr::tsc_deadline ||
           (msr >= msr::x2apic_first && msr <= msr::x2apic_last);
}

bool VirtualLapic::read_msr(uint32_t msr, uint64_t now, uint64_t& value) {
    update(now);
    if (msr == msr::apic_base) {
        value = apic_base();
        return true;
    }
    if (msr == msr::tsc_deadline) {
        // SDM: outside TSC-deadline mode the MSR reads 0 (a disabled APIC is in one-shot mode).
        value = timer_.mode() == TimerMode::tsc_deadline ? timer_.tsc_deadline() : 0;
        return true;
    }
    if (msr < msr::x2apic_first || msr > msr::x2apic_last || !x2apic()) {
        return false;
    }
    return read_x2apic(x2apic_offset(msr), now, value);
}

bool VirtualLapic::write_msr(uint32_t msr, uint64_t value, uint64_t now, LapicBus& bus) {
    update(now);
    if (msr == msr::apic_base) {
        return write_apic_base(value);
    }
    if (msr == msr::tsc_deadline) {
        // Ignored outside TSC-deadline mode; a deadline already past fires at once.
        if (timer_.mode() == TimerMode::tsc_deadline) {
            timer_.set_tsc_deadline(value);
            update(now);
        }
        return true;
    }
    if (msr < msr::x2apic_first || msr > msr::x2apic_last || !x2apic()) {
        return false;
    }
    return write_x2apic(x2apic_offset(msr), value, now, bus);
}

bool VirtualLapic::read_x2apic(uint32_t offset, uint64_t now, uint64_t& value) {
    uint32_t common = 0;
    if (offset != offset::lvt_cmci && read_common(offset, now, common)) {
        value = common;
        return true;
    }
    switch (offset) {
    case offset::id:
        value = apic_id_;
        return true;
    case offset::ldr:
        value = logical_destination();
        return true;
    case offset::icr_low:
        value = icr_;
        return true;
    default:
        // EOI and SELF_IPI are write-only; APR, RRD, DFR, ICR high (0x831), CMCI and every
        // unlisted MSR do not exist in x2APIC mode.
        return false;
    }
}

bool VirtualLapic::write_x2apic(uint32_t offset, uint64_t value, uint64_t now, LapicBus& bus) {
    if (offset == offset::icr_low) {
        if ((value & ~icr::x2apic_writable) != 0) {
            return false;
        }
        icr_ = value;
        send(icr_, bus);
        return true;
    }
    // The upper 32 bits of every other x2APIC register are reserved.
    if ((value >> 32) != 0) {
        return false;
    }
    const uint32_t low = static_cast<uint32_t>(value);
    if (offset >= offset::lvt_first && offset <= offset::lvt_last) {
        const unsigned index = (offset - offset::lvt_first) / 16;
        if ((low & ~(kLvtWritable[index] | kLvtReadOnly[index])) != 0) {
            return false;
        }
        write_lvt(static_cast<Lvt>(index), low, now);
        return true;
    }
    switch (offset) {
    case offset::tpr:
        if (low > 0xFF) {
            return false;
        }
        tpr_ = static_cast<uint8_t>(low);
        return true;
    case offset::eoi:
        if (low != 0) {
            return false;
        }
        end_of_interrupt(bus);
        return true;
    case offset::svr:
        if ((low & ~svr::writable) != 0) {
            return false;
        }
        write_svr(low);
        return true;
    case offset::esr:
        if (low != 0) {
            return false;
        }
        write_esr();
        return true;
    case offset::timer_initial:
        timer_.set_initial_count(low, now);
        return true;
    case offset::timer_divide:
        if ((low & ~kDivideWritable) != 0) {
            return false;
        }
        timer_.set_divide_configuration(low, now);
        return true;
    case offset::self_ipi:
        if (low > 0xFF) {
            return false;
        }
        // x2APIC spec: handled like a fixed, edge-triggered self IPI, logged in the IRR.
        if (low < 16) {
            record_error(esr::send_illegal_vector);
        } else {
            accept(static_cast<uint8_t>(low), false);
        }
        return true;
    default:
        // Read-only registers (ID, version, PPR, LDR, ISR, TMR, IRR, current count) and
        // reserved MSRs.
        return false;
    }
}

} // namespace halcyon::vmm::lapic
