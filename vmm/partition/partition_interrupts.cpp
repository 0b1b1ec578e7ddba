// Interrupt delivery: each vCPU's virtual local APIC (vmm/lapic) lives here, in the partition,
// as Hyper-V keeps it in the hypervisor: timers, IPIs and EOIs never leave the core.
//
// Locking: a vCPU's APIC is touched by its own CPU (entries, MSR and MMIO exits) and by others
// (IPIs, device interrupts), so each has a spin lock. An APIC operation may produce IPIs and
// level-triggered EOIs; they are collected in an Outbox while that lock is held and carried out
// after it is released, so no CPU ever holds two APIC locks (two vCPUs IPI-ing each other at
// once cannot deadlock).
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/partition/lapic_outbox.hpp"
#include "vmm/partition/partition.hpp"

namespace halcyon::vmm {
namespace {

constexpr uint64_t kRflagsIf = 1ull << 9;

} // namespace

void Partition::flush(Outbox& outbox) {
    for (uint32_t i = 0; i < outbox.ipi_count; ++i)
        deliver_interrupt(outbox.ipis[i]);
    if (observer_ != nullptr) {
        for (uint32_t i = 0; i < outbox.eoi_count; ++i)
            observer_->end_of_interrupt(outbox.eois[i]);
    }
}

void Partition::deliver_interrupt(const lapic::Ipi& message) {
    // The common message (device interrupts, Linux's IPIs) names one APIC by its physical ID,
    // which is the vCPU index: only that APIC is locked. (Broadcast IDs are >= the vCPU count.)
    if (!message.logical && message.shorthand == lapic::Ipi::none &&
        message.mode != lapic::DeliveryMode::lowest_priority && message.destination < vcpu_count_) {
        const uint32_t index = message.destination;
        bool delivered = false;
        {
            mm::SpinLockGuard guard(vcpus_[index].lapic_lock);
            if (vcpus_[index].lapic->matches(message.destination, false)) {
                vcpus_[index].lapic->deliver(message);
                delivered = true;
            }
        }
        if (delivered && observer_ != nullptr)
            observer_->vcpu_has_work(index);
        return;
    }
    // Otherwise routing compares the addressed APICs (lowest priority even their priorities),
    // so all of them are locked, always in index order: nobody holds an APIC lock while taking
    // another one except here, so this cannot deadlock.
    lapic::VirtualLapic* apics[kMaxVcpusPerPartition];
    lapic::VirtualLapic* targets[kMaxVcpusPerPartition];
    for (uint32_t i = 0; i < vcpu_count_; ++i) {
        vcpus_[i].lapic_lock.lock();
        apics[i] = vcpus_[i].lapic;
    }
    const size_t count =
        lapic::VirtualLapic::route(message, {apics, vcpu_count_}, {targets, vcpu_count_});
    uint64_t woken = 0;
    for (size_t t = 0; t < count; ++t) {
        targets[t]->deliver(message);
        woken |= 1ull << targets[t]->apic_id(); // APIC ID = vCPU index
    }
    for (uint32_t i = vcpu_count_; i-- > 0;)
        vcpus_[i].lapic_lock.unlock();
    if (observer_ == nullptr)
        return;
    for (uint32_t index = 0; index < vcpu_count_; ++index) {
        if (woken & (1ull << index))
            observer_->vcpu_has_work(index);
    }
}

bool Partition::lapic_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value) {
    Vcpu& vcpu = vcpus_[index];
    Outbox outbox;
    bool ok;
    {
        mm::SpinLockGuard guard(vcpu.lapic_lock);
        const uint64_t now = x86::rdtsc();
        ok = write ? vcpu.lapic->write_msr(msr, value, now, outbox)
                   : vcpu.lapic->read_msr(msr, now, value);
    }
    flush(outbox);
    return ok;
}

uint64_t Partition::timer_deadline(uint32_t index) {
    Vcpu& vcpu = vcpus_[index];
    const uint64_t synthetic = __atomic_load_n(&vcpu.synic_deadline, __ATOMIC_RELAXED);
    mm::SpinLockGuard guard(vcpu.lapic_lock);
    const uint64_t apic = vcpu.lapic->timer_deadline();
    return apic < synthetic ? apic : synthetic;
}

bool Partition::prepare_entry(uint32_t index) {
    Vcpu& vcpu = vcpus_[index];
    const uint64_t now = x86::rdtsc();
    // Hyper-V synthetic timers first (under the SynIC's lock, which is never held with the
    // APIC's): their vectors go into the APIC below, with the APIC timer's.
    hyperv::InterruptVectors synic_vectors;
    if (now >= __atomic_load_n(&vcpu.synic_deadline, __ATOMIC_RELAXED))
        fire_synthetic_timers(index, now, synic_vectors);
    uint64_t own_deadline = kNoDeadline;
    if (!prepare_lapic_entry(index, now, synic_vectors, own_deadline))
        return false;
    // The vCPU's own timers may have moved since the worker armed the preemption timer: the
    // guest reprogrammed one inside the partition (take the CPU back then, not at the end of
    // the slice), or the one it was armed for has just fired (an exit for it now would only
    // cost a round trip). Keep it at the earliest of them and the worker's deadline.
    if (vcpu.manage_preemption) {
        const uint64_t synthetic = __atomic_load_n(&vcpu.synic_deadline, __ATOMIC_RELAXED);
        uint64_t wanted = vcpu.worker_deadline;
        if (own_deadline < wanted)
            wanted = own_deadline;
        if (synthetic < wanted)
            wanted = synthetic;
        if (wanted != vcpu.armed_deadline) {
            (void)x86::preemption_timer::arm(wanted);
            vcpu.armed_deadline = wanted;
        }
    }
    return true;
}

bool Partition::prepare_lapic_entry(uint32_t index, uint64_t now,
                                    const hyperv::InterruptVectors& synic_vectors,
                                    uint64_t& own_deadline) {
    Vcpu& vcpu = vcpus_[index];
    CpuBackend& cpu = *vcpu.backend;
    mm::SpinLockGuard guard(vcpu.lapic_lock);
    for (int vector = synic_vectors.next(0); vector >= 0; vector = synic_vectors.next(vector + 1))
        vcpu.lapic->accept(static_cast<uint8_t>(vector), false);
    vcpu.lapic->update(now);
    own_deadline = vcpu.lapic->timer_deadline();
    if (vcpu.lapic->run_state() == lapic::VirtualLapic::RunState::wait_for_startup) {
        uint8_t vector = 0;
        if (!vcpu.lapic->take_startup(vector))
            return false;
        start_at_vector(index, vector);
        vcpu.halted = false;
    }
    // One event per entry: an exception or an interrupted delivery already queued goes first,
    // and the interrupt waits in the IRR for the next entry.
    const int vector = vcpu.lapic->pending_vector();
    const bool can_interrupt = (cpu.registers().rflags & kRflagsIf) != 0;
    if (vcpu.halted) {
        // HLT ends with an NMI, or with an interrupt the guest accepts (IF set).
        if (!vcpu.lapic->nmi_pending() && !(vector >= 0 && can_interrupt))
            return false;
        vcpu.halted = false;
    }
    if (cpu.event_pending())
        return true;
    if (vcpu.lapic->take_nmi()) {
        cpu.inject_nmi();
        return true;
    }
    if (vector < 0)
        return true;
    if (cpu.interrupts_enabled()) {
        vcpu.lapic->acknowledge(static_cast<uint8_t>(vector));
        cpu.inject_interrupt(static_cast<uint8_t>(vector));
    } else {
        cpu.request_interrupt_window(true);
    }
    return true;
}

// A startup IPI starts the vCPU in real mode at vector * 4 KiB, with the state INIT leaves
// (Intel SDM vol. 3 table 9-1; AMD APM vol. 2 table 14-1).
void Partition::start_at_vector(uint32_t index, uint8_t vector) {
    constexpr uint16_t kCodeAttributes = 0x9B; // present, code, readable, accessed
    constexpr uint16_t kDataAttributes = 0x93; // present, data, writable, accessed
    SystemRegisters system;
    system.cr0 = 0x6000'0010; // CD, NW, ET
    system.pat = 0x0007'0406'0007'0406ull;
    system.cs = Segment{static_cast<uint16_t>(vector << 8), kCodeAttributes, 0xFFFF,
                        static_cast<uint64_t>(vector) << 12};
    const Segment data{0, kDataAttributes, 0xFFFF, 0};
    system.ds = system.es = system.fs = system.gs = system.ss = data;
    system.tr = Segment{0, 0x8B, 0xFFFF, 0};   // busy 32-bit TSS type, as after reset
    system.ldtr = Segment{0, 0x82, 0xFFFF, 0}; // LDT
    system.gdtr = {0, 0xFFFF};
    system.idtr = {0, 0xFFFF};
    CpuBackend& cpu = *vcpus_[index].backend;
    cpu.set_system_registers(system);
    GeneralRegisters& regs = cpu.registers();
    regs = GeneralRegisters{};
    regs.rip = 0;
    regs.rflags = 0x2;
    regs.rdx = 0x0060'0F00; // family/model/stepping after reset (any sane value; Linux ignores it)
}

} // namespace halcyon::vmm
