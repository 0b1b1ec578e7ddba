// Memory-mapped I/O: nested page faults on addresses that are not guest RAM. The local APIC
// page is emulated here; the worker's device regions become `mmio` intercepts that the worker
// completes with emulate_mmio(); everything else is unbacked bus space (partition.cpp).
//
// Either way the instruction at RIP is carried out by the Zydis emulator (vmm/emulate), over
// the guest's registers as the backend holds them and over guest RAM for its other operand.
#include "mm/guest_page_walk.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/partition/lapic_outbox.hpp"
#include "vmm/partition/partition.hpp"

namespace halcyon::vmm {
namespace {

constexpr uint8_t kVectorDebug = 1;
constexpr uint64_t kDr6SingleStep = 1ull << 14;

// GeneralRegisters field for each emulator GPR number (the instruction encoding's order).
uint64_t GeneralRegisters::*const kGprFields[16] = {
    &GeneralRegisters::rax, &GeneralRegisters::rcx, &GeneralRegisters::rdx, &GeneralRegisters::rbx,
    &GeneralRegisters::rsp, &GeneralRegisters::rbp, &GeneralRegisters::rsi, &GeneralRegisters::rdi,
    &GeneralRegisters::r8,  &GeneralRegisters::r9,  &GeneralRegisters::r10, &GeneralRegisters::r11,
    &GeneralRegisters::r12, &GeneralRegisters::r13, &GeneralRegisters::r14, &GeneralRegisters::r15,
};

emulate::SegmentRegister to_emulator(const Segment& segment) {
    return {segment.selector, segment.attributes, segment.limit, segment.base};
}

} // namespace

// Guest RAM for the emulator's page walks (with Accessed/Dirty updates) and RAM operands.
// `not_found` tells the emulator that no RAM is there, so the access goes to the MMIO bus.
class Partition::GuestMemory final : public mm::GuestPhysicalMemory {
public:
    explicit GuestMemory(Partition& partition) : partition_(partition) {}
    ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) override {
        if (partition_.host_pointer(gpa, size) == nullptr)
            return Error(ErrorCode::not_found, "no guest RAM there");
        return partition_.read_guest(gpa, buffer, size);
    }
    ErrorOr<void> write(uint64_t gpa, const void* buffer, size_t size) override {
        if (partition_.host_pointer(gpa, size) == nullptr)
            return Error(ErrorCode::not_found, "no guest RAM there");
        return partition_.write_guest(gpa, buffer, size);
    }

private:
    Partition& partition_;
};

// The xAPIC register page of one vCPU. Registers are 32 bits wide at 16-byte steps; narrower or
// misaligned accesses read the containing register and ignore writes (the SDM leaves them
// undefined; this is what guests that do them by mistake see on most hardware).
class Partition::LapicMmio final : public emulate::MmioBus {
public:
    LapicMmio(Vcpu& vcpu, Outbox& outbox) : vcpu_(vcpu), outbox_(outbox) {}
    ErrorOr<uint64_t> read(uint64_t gpa, unsigned size) override {
        const uint32_t offset = static_cast<uint32_t>(gpa - kLapicBase);
        mm::SpinLockGuard guard(vcpu_.lapic_lock);
        const uint32_t value = vcpu_.lapic->mmio_read(offset & ~3u, x86::rdtsc());
        const uint64_t shifted = value >> ((offset & 3) * 8);
        return size >= 4 ? shifted : shifted & ((1ull << (size * 8)) - 1);
    }
    ErrorOr<void> write(uint64_t gpa, unsigned size, uint64_t value) override {
        const uint32_t offset = static_cast<uint32_t>(gpa - kLapicBase);
        if ((offset & 3) != 0 || size < 4)
            return {};
        mm::SpinLockGuard guard(vcpu_.lapic_lock);
        vcpu_.lapic->mmio_write(offset, static_cast<uint32_t>(value), x86::rdtsc(), outbox_);
        return {};
    }

private:
    Vcpu& vcpu_;
    Outbox& outbox_;
};

ErrorOr<void> Partition::add_mmio_region(uint64_t guest_physical, uint64_t size) {
    if (mmio_region_count_ == kMaxMmioRegions)
        return Error(ErrorCode::out_of_range, "too many MMIO regions");
    if (size == 0 || guest_physical + size < guest_physical ||
        host_pointer(guest_physical, 1) != nullptr)
        return Error(ErrorCode::invalid_argument, "an MMIO region must not overlap guest RAM");
    mmio_regions_[mmio_region_count_++] = {guest_physical, size};
    return {};
}

bool Partition::in_mmio_region(uint64_t guest_physical) const {
    for (uint32_t i = 0; i < mmio_region_count_; ++i) {
        if (guest_physical - mmio_regions_[i].guest_physical < mmio_regions_[i].size)
            return true;
    }
    return false;
}

ErrorOr<void> Partition::emulate_mmio(uint32_t index, emulate::MmioBus& bus) {
    if (index >= vcpu_count_)
        return Error(ErrorCode::out_of_range, "no such vCPU");
    return emulate(index, bus);
}

ErrorOr<void> Partition::emulate_lapic(uint32_t index) {
    Outbox outbox;
    LapicMmio bus(vcpus_[index], outbox);
    auto emulated = emulate(index, bus);
    flush(outbox);
    return emulated;
}

ErrorOr<void> Partition::emulate(uint32_t index, emulate::MmioBus& bus) {
    CpuBackend& cpu = *vcpus_[index].backend;
    GeneralRegisters& regs = cpu.registers();
    SystemRegisters system = cpu.system_registers();
    emulate::GuestRegisters state;
    for (size_t i = 0; i < 16; ++i)
        state.gpr[i] = regs.*kGprFields[i];
    state.rip = regs.rip;
    state.rflags = regs.rflags;
    state.cr0 = system.cr0;
    state.cr3 = system.cr3;
    state.cr4 = system.cr4;
    state.efer = system.efer;
    state.segment[emulate::kEs] = to_emulator(system.es);
    state.segment[emulate::kCs] = to_emulator(system.cs);
    state.segment[emulate::kSs] = to_emulator(system.ss);
    state.segment[emulate::kDs] = to_emulator(system.ds);
    state.segment[emulate::kFs] = to_emulator(system.fs);
    state.segment[emulate::kGs] = to_emulator(system.gs);

    GuestMemory memory(*this);
    // With RFLAGS.TF the CPU traps after every iteration of a REP string instruction: emulate
    // one iteration per exit so each trap happens where hardware would raise it.
    emulate::EmulatorOptions options;
    const Vcpu& vcpu = vcpus_[index];
    options.prefetched_bytes = {vcpu.exit_instruction_bytes, vcpu.exit_instruction_byte_count};
    if ((state.rflags & emulate::rflags::kTrap) != 0)
        options.max_rep_iterations = 1;
    const emulate::EmulationOutcome outcome =
        TRY(emulate::emulate_instruction(state, memory, bus, options));
    // On an exception the emulator leaves what the CPU would: nothing changed, or for a fault in
    // the middle of a REP string instruction the iterations done (RCX/RSI/RDI, RIP still at the
    // instruction). Either way its registers are the architectural state.
    for (size_t i = 0; i < 16; ++i)
        regs.*kGprFields[i] = state.gpr[i];
    regs.rip = state.rip;
    regs.rflags = state.rflags;
    if (outcome.status == emulate::EmulationStatus::inject_exception) {
        if (outcome.vector == emulate::vector::kPageFault) {
            system.cr2 = outcome.fault_address;
            cpu.set_system_registers(system);
        }
        cpu.inject_exception(outcome.vector, outcome.has_error_code, outcome.error_code);
        return {};
    }
    if (outcome.single_step) {
        // DR6.BS and a #DB trap after the instruction, as the CPU would have raised.
        cpu.set_debug_status(kDr6SingleStep);
        cpu.inject_exception(kVectorDebug, false, 0);
    }
    return {};
}

} // namespace halcyon::vmm
