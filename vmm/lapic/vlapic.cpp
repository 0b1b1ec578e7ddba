// VirtualLapic: state, IA32_APIC_BASE, interrupt acceptance, priorities, EOI, INIT/SIPI and the
// timer glue. Register access is in vlapic_registers.cpp, routing in vlapic_routing.cpp.
#include "vmm/lapic/vlapic.hpp"

#include <algorithm>

namespace halcyon::vmm::lapic {

VirtualLapic::VirtualLapic(uint32_t apic_id, uint64_t tsc_hz, uint64_t timer_hz)
    : apic_id_(apic_id), run_state_(apic_id == 0 ? RunState::running : RunState::wait_for_startup),
      timer_(tsc_hz, timer_hz) {
    reset_registers();
}

void VirtualLapic::reset_registers() {
    // SDM "Local APIC State After Power-Up or Reset" (also INIT): IRR, ISR, TMR, ICR, LDR, TPR,
    // timer counts and divide configuration 0; DFR all ones; LVTs masked; SVR 0xFF.
    tpr_ = 0;
    ldr_ = 0;
    dfr_ = dfr::reset_value;
    svr_ = svr::reset_value;
    irr_.clear_all();
    isr_.clear_all();
    tmr_.clear_all();
    esr_ = 0;
    esr_pending_ = 0;
    icr_ = 0;
    for (uint32_t& entry : lvt_) {
        entry = lvt::reset_value;
    }
    timer_.reset();
}

uint64_t VirtualLapic::apic_base() const {
    uint64_t value = base::default_address;
    if (is_bsp()) {
        value |= base::bsp;
    }
    if (mode_ != Mode::disabled) {
        value |= base::global_enable;
    }
    if (mode_ == Mode::x2apic) {
        value |= base::x2apic_enable;
    }
    return value;
}

bool VirtualLapic::write_apic_base(uint64_t value) {
    // BSP is read-only (ignored); the base cannot move; bits 0-7, 9 and above the base reserved.
    constexpr uint64_t flags = base::bsp | base::x2apic_enable | base::global_enable;
    if ((value & ~flags) != base::default_address) {
        return false;
    }
    const bool enable = (value & base::global_enable) != 0;
    const bool extended = (value & base::x2apic_enable) != 0;
    if (!enable && extended) {
        return false; // EN=0, EXTD=1 is the invalid state
    }
    const Mode target = !enable ? Mode::disabled : (extended ? Mode::x2apic : Mode::xapic);
    if (target == mode_) {
        return true;
    }
    // x2APIC spec state diagram: x2APIC -> xAPIC and disabled -> x2APIC are illegal (#GP); leaving
    // for "disabled" resets the APIC, which comes back in its power-up state.
    if ((mode_ == Mode::x2apic && target == Mode::xapic) ||
        (mode_ == Mode::disabled && target == Mode::x2apic)) {
        return false;
    }
    if (target == Mode::disabled) {
        reset_registers();
        nmi_pending_ = false;
    }
    mode_ = target;
    return true;
}

void VirtualLapic::accept(uint8_t vector, bool level_triggered) {
    if (mode_ == Mode::disabled || !software_enabled()) {
        return;
    }
    if (vector < 16) {
        record_error(esr::receive_illegal_vector);
        return;
    }
    irr_.set(vector);
    // SDM: on acceptance the TMR bit is set for level-triggered and cleared for edge-triggered.
    tmr_.assign(vector, level_triggered);
}

void VirtualLapic::accept_nmi() {
    // A vCPU waiting for SIPI cannot take it; dropping it keeps a stale NMI from hitting the
    // fresh real-mode code after the SIPI.
    if (mode_ == Mode::disabled || run_state_ == RunState::wait_for_startup) {
        return;
    }
    nmi_pending_ = true;
}

bool VirtualLapic::take_nmi() {
    const bool pending = nmi_pending_;
    nmi_pending_ = false;
    return pending;
}

void VirtualLapic::accept_init() {
    reset_registers();
    nmi_pending_ = false;
    startup_pending_ = false;
    run_state_ = RunState::wait_for_startup;
}

void VirtualLapic::accept_startup(uint8_t vector) {
    // Only the first SIPI after INIT counts; a running vCPU ignores SIPIs.
    if (run_state_ != RunState::wait_for_startup || startup_pending_) {
        return;
    }
    startup_pending_ = true;
    startup_vector_ = vector;
}

void VirtualLapic::start_running() {
    startup_pending_ = false;
    run_state_ = RunState::running;
}

bool VirtualLapic::take_startup(uint8_t& vector) {
    if (!startup_pending_) {
        return false;
    }
    vector = startup_vector_;
    startup_pending_ = false;
    run_state_ = RunState::running;
    return true;
}

uint8_t VirtualLapic::processor_priority() const {
    // SDM "Processor Priority Register": TPR if its class is at least the highest in-service
    // class, otherwise that class (sub-class 0).
    const int in_service = isr_.highest();
    const uint8_t in_service_class = in_service < 0 ? 0 : static_cast<uint8_t>(in_service & 0xF0);
    return (tpr_ & 0xF0) >= in_service_class ? tpr_ : in_service_class;
}

uint8_t VirtualLapic::arbitration_priority() const {
    // SDM "Arbitration Priority Register": TPR if its class is at least the highest requested
    // and above the highest in-service class; otherwise the highest of the three classes.
    const int in_service = isr_.highest();
    const int requested = irr_.highest();
    const uint8_t isr_class = in_service < 0 ? 0 : static_cast<uint8_t>(in_service & 0xF0);
    const uint8_t irr_class = requested < 0 ? 0 : static_cast<uint8_t>(requested & 0xF0);
    const uint8_t tpr_class = tpr_ & 0xF0;
    if (tpr_class >= irr_class && tpr_class > isr_class) {
        return tpr_;
    }
    return std::max({tpr_class, isr_class, irr_class});
}

int VirtualLapic::pending_vector() const {
    if (mode_ == Mode::disabled) {
        return -1;
    }
    const int vector = irr_.highest();
    if (vector < 0 || (vector & 0xF0) <= (processor_priority() & 0xF0)) {
        return -1;
    }
    return vector;
}

void VirtualLapic::acknowledge(uint8_t vector) {
    if (!irr_.test(vector)) {
        return;
    }
    irr_.clear(vector);
    // AutoEOI (Hyper-V SynIC): the interrupt ends as it is delivered, the ISR never holds it.
    if (auto_eoi_.test(vector) && !tmr_.test(vector)) {
        return;
    }
    isr_.set(vector);
}

void VirtualLapic::end_of_interrupt(LapicBus& bus) {
    const int vector = isr_.highest();
    if (vector < 0) {
        return;
    }
    isr_.clear(static_cast<uint8_t>(vector));
    if (tmr_.test(static_cast<uint8_t>(vector))) {
        bus.end_of_interrupt(static_cast<uint8_t>(vector));
    }
}

void VirtualLapic::record_error(uint32_t bits) {
    esr_pending_ |= bits;
    // SDM "Error Handling": errors are collected whatever the mask; an unmasked LVT error entry
    // raises its vector on each error. An illegal error vector only adds its own error bit
    // (no interrupt, no recursion).
    const uint32_t entry = lvt(Lvt::error);
    if ((entry & lvt::mask) != 0) {
        return;
    }
    const uint8_t vector = static_cast<uint8_t>(entry & lvt::vector);
    if (vector < 16) {
        esr_pending_ |= esr::receive_illegal_vector;
        return;
    }
    irr_.set(vector);
    tmr_.clear(vector);
}

void VirtualLapic::raise_local(Lvt entry) {
    const uint32_t value = lvt(entry);
    if ((value & lvt::mask) != 0) {
        return;
    }
    const uint8_t vector = static_cast<uint8_t>(value & lvt::vector);
    if (vector < 16) {
        record_error(esr::receive_illegal_vector);
        return;
    }
    irr_.set(vector);
    tmr_.clear(vector); // timer interrupts are edge-triggered
}

uint64_t VirtualLapic::timer_deadline() const {
    if ((lvt(Lvt::timer) & lvt::mask) != 0) {
        return kNoDeadline;
    }
    return timer_.next_expiry();
}

void VirtualLapic::update(uint64_t now) {
    if (timer_.expire(now)) {
        raise_local(Lvt::timer);
    }
}

uint32_t VirtualLapic::logical_destination() const {
    if (x2apic()) {
        // x2APIC: cluster = ID[31:4] in bits 31:16, one bit (ID[3:0]) in bits 15:0.
        return ((apic_id_ >> 4) << 16) | (uint32_t{1} << (apic_id_ & 15));
    }
    return ldr_;
}

} // namespace halcyon::vmm::lapic
