#include "vmm/svm/svm_vcpu.hpp"

#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/extended_state.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/fpu_state.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/svm/exit_codes.hpp"
#include "vmm/svm/permission_maps.hpp"
#include "vmm/virt/virt_cpu.hpp"

#include <new>
#include <stddef.h>
#include <string.h>

extern "C" void svm_run_guest(uint64_t guest_vmcb, halcyon::vmm::GeneralRegisters* registers,
                              uint64_t host_vmcb);

namespace halcyon::svm {
namespace {

// svm_run.S addresses the registers by these offsets.
static_assert(offsetof(vmm::GeneralRegisters, rbx) == 8);
static_assert(offsetof(vmm::GeneralRegisters, rsi) == 32);
static_assert(offsetof(vmm::GeneralRegisters, rdi) == 40);
static_assert(offsetof(vmm::GeneralRegisters, rbp) == 48);
static_assert(offsetof(vmm::GeneralRegisters, r8) == 64);
static_assert(offsetof(vmm::GeneralRegisters, r15) == 120);

constexpr uint64_t kEferSvme = 1ull << 12;
constexpr uint64_t kRflagsIf = 1ull << 9;
constexpr uint8_t kVectorInvalidOpcode = 6;
constexpr uint8_t kVectorGeneralProtection = 13;
constexpr uint8_t kXsetbvLength = 3; // 0F 01 D1

// MSRs whose guest copies live in the VMCB (VMRUN or VMLOAD/VMSAVE switch them), so the guest
// may use them directly. Everything else goes through the partition's MSR policy.
constexpr uint32_t kPassThroughMsrs[] = {
    0xC000'0100, // FS_BASE
    0xC000'0101, // GS_BASE
    0xC000'0102, // KERNEL_GS_BASE
    0xC000'0081, // STAR
    0xC000'0082, // LSTAR
    0xC000'0083, // CSTAR
    0xC000'0084, // SFMASK
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
};

// The page each physical CPU VMSAVEs its own FS/GS/TR/... state into while a guest runs.
uint64_t g_host_save_pages[x86::kMaxCpus];

// ASIDs: the CPU tags TLB entries with them, so two partitions may share one only if the TLB is
// flushed between them. Each CPU remembers which nested tables last ran under each ASID; a
// different owner means a flush. (TCG offers 16 ASIDs; hardware thousands, of which we track the
// first kTrackedAsids.)
constexpr uint32_t kTrackedAsids = 64;
uint64_t g_asid_owner[x86::kMaxCpus][kTrackedAsids];

uint32_t hardware_asid(uint32_t partition_id) {
    const virt::CpuVirtualization* bsp = virt::cpu_state(0);
    uint32_t usable = bsp != nullptr && bsp->features.asids > 1 ? bsp->features.asids - 1 : 1;
    if (usable > kTrackedAsids - 1)
        usable = kTrackedAsids - 1;
    return 1 + (partition_id - 1) % usable;
}

template <typename T>
T* direct(uint64_t physical) {
    return reinterpret_cast<T*>(handoff::kDirectMapBase + physical);
}

} // namespace

SvmVcpu::SvmVcpu(mm::FrameAllocator& frames, uint64_t vmcb, uint64_t iopm, uint64_t msrpm)
    : frames_(&frames), vmcb_physical_(vmcb), iopm_physical_(iopm), msrpm_physical_(msrpm) {}

SvmVcpu::~SvmVcpu() {
    (void)frames_->free(vmcb_physical_, 1);
    (void)frames_->free(iopm_physical_, kIopmBytes / mm::kPageSize);
    (void)frames_->free(msrpm_physical_, kMsrpmBytes / mm::kPageSize);
}

ErrorOr<SvmVcpu*> SvmVcpu::create(mm::FrameAllocator& frames, const vmm::BackendSetup& setup) {
    if (setup.address_space_id == 0)
        return Error(ErrorCode::invalid_argument, "ASID 0 belongs to the host");
    const uint64_t vmcb = TRY(frames.allocate(1));
    auto iopm = frames.allocate(kIopmBytes / mm::kPageSize);
    auto msrpm = frames.allocate(kMsrpmBytes / mm::kPageSize);
    void* memory = (iopm.is_error() || msrpm.is_error())
                       ? nullptr
                       : vmm::allocate_object(sizeof(SvmVcpu), alignof(SvmVcpu));
    auto* vcpu = memory == nullptr ? nullptr
                                   : new (memory)
                                         SvmVcpu(frames, vmcb, iopm.value(), msrpm.value());
    if (vcpu == nullptr) {
        (void)frames.free(vmcb, 1);
        if (!iopm.is_error())
            (void)frames.free(iopm.value(), kIopmBytes / mm::kPageSize);
        if (!msrpm.is_error())
            (void)frames.free(msrpm.value(), kMsrpmBytes / mm::kPageSize);
        return Error(ErrorCode::out_of_memory, "no memory for a vCPU's VMCB and permission maps");
    }
    vcpu->configure_controls(setup);
    return vcpu;
}

Vmcb& SvmVcpu::vmcb() const {
    return *direct<Vmcb>(vmcb_physical_);
}

void SvmVcpu::reset() {
    registers_ = vmm::GeneralRegisters{};
    configure_controls(setup_);
    flush_pending_ = true;
}

void SvmVcpu::configure_controls(const vmm::BackendSetup& setup) {
    setup_ = setup;
    xcr0_ = vmm::xcr0::kX87; // the value after RESET
    memset(&vmcb(), 0, sizeof(Vmcb));
    std::span<uint8_t> iopm(direct<uint8_t>(iopm_physical_), kIopmBytes);
    std::span<uint8_t> msrpm(direct<uint8_t>(msrpm_physical_), kMsrpmBytes);
    intercept_all(iopm); // every port reaches the VM worker's device models
    intercept_all(msrpm);
    for (uint32_t msr : kPassThroughMsrs)
        (void)allow_msr(msrpm, msr, true, true);

    VmcbControl& control = vmcb().control;
    // NMI/SMI/INIT must reach the host, not the guest; so must physical interrupts, which also
    // preempt a guest that never exits by itself (the worker's timer). V_INTR_MASKING keeps the
    // guest's RFLAGS.IF from masking them.
    control.intercept_misc1 = intercept1::kIntr | intercept1::kNmi | intercept1::kSmi |
                              intercept1::kInit | intercept1::kCpuid | intercept1::kInvd |
                              intercept1::kPause | intercept1::kHlt | intercept1::kInvlpga |
                              intercept1::kIoio | intercept1::kMsr | intercept1::kTaskSwitch |
                              intercept1::kShutdown;
    // The guest sees no SVM: every SVM instruction becomes #UD. MONITOR/MWAIT and RDTSCP are
    // hidden by the CPUID policy. XSETBV is emulated: XCR0 is per vCPU (emulate_xsetbv).
    control.intercept_misc2 = intercept2::kVmrun | intercept2::kVmmcall | intercept2::kVmload |
                              intercept2::kVmsave | intercept2::kStgi | intercept2::kClgi |
                              intercept2::kSkinit | intercept2::kRdtscp | intercept2::kMonitor |
                              intercept2::kMwait | intercept2::kMwaitConditional |
                              intercept2::kXsetbv;
    control.iopm_base_pa = iopm_physical_;
    control.msrpm_base_pa = msrpm_physical_;
    control.guest_asid = hardware_asid(setup.address_space_id);
    control.virtual_interrupt = kVirtualInterruptMasking;
    control.nested_control = kNestedPagingEnable;
    control.nested_cr3 = setup.nested_root;
    control.clean_bits = 0; // TCG has no VMCB clean bits; on hardware 0 means "reload all"

    VmcbState& state = vmcb().state;
    state.guest_pat = 0x0007'0406'0007'0406ull; // the architectural power-on PAT
    state.dr6 = 0xFFFF'0FF0;
    state.dr7 = 0x400;
    state.rflags = 0x2;
    state.efer = kEferSvme; // VMRUN refuses a guest EFER without SVME; the guest never sees it
    registers_.rflags = 0x2;
}

vmm::SystemRegisters SvmVcpu::system_registers() const {
    const VmcbState& state = vmcb().state;
    auto segment = [](const VmcbSegment& s) {
        return vmm::Segment{s.selector, s.attributes, s.limit, s.base};
    };
    vmm::SystemRegisters out;
    out.cr0 = state.cr0;
    out.cr2 = state.cr2;
    out.cr3 = state.cr3;
    out.cr4 = state.cr4;
    out.efer = state.efer & ~kEferSvme;
    out.pat = state.guest_pat;
    out.cs = segment(state.cs);
    out.ds = segment(state.ds);
    out.es = segment(state.es);
    out.fs = segment(state.fs);
    out.gs = segment(state.gs);
    out.ss = segment(state.ss);
    out.tr = segment(state.tr);
    out.ldtr = segment(state.ldtr);
    out.gdtr = {state.gdtr.base, static_cast<uint16_t>(state.gdtr.limit)};
    out.idtr = {state.idtr.base, static_cast<uint16_t>(state.idtr.limit)};
    out.cpl = state.cpl;
    return out;
}

void SvmVcpu::set_system_registers(const vmm::SystemRegisters& in) {
    VmcbState& state = vmcb().state;
    auto segment = [](const vmm::Segment& s) {
        return VmcbSegment{s.selector, s.attributes, s.limit, s.base};
    };
    state.cr0 = in.cr0;
    state.cr2 = in.cr2;
    state.cr3 = in.cr3;
    state.cr4 = in.cr4;
    state.efer = in.efer | kEferSvme;
    state.guest_pat = in.pat;
    state.cs = segment(in.cs);
    state.ds = segment(in.ds);
    state.es = segment(in.es);
    state.fs = segment(in.fs);
    state.gs = segment(in.gs);
    state.ss = segment(in.ss);
    state.tr = segment(in.tr);
    state.ldtr = segment(in.ldtr);
    state.gdtr = VmcbSegment{0, 0, in.gdtr.limit, in.gdtr.base};
    state.idtr = VmcbSegment{0, 0, in.idtr.limit, in.idtr.base};
    state.cpl = in.cpl;
    // Paging state changed under the guest's feet: drop whatever the TLB cached for it.
    flush_pending_ = true;
}

void SvmVcpu::inject_exception(uint8_t vector, bool has_error_code, uint32_t error_code) {
    uint64_t event = vector | event::kTypeException | event::kValid;
    if (has_error_code)
        event |= event::kErrorCodeValid | (static_cast<uint64_t>(error_code) << 32);
    vmcb().control.event_injection = event;
}

void SvmVcpu::inject_interrupt(uint8_t vector) {
    vmcb().control.event_injection = vector | event::kTypeExternal | event::kValid;
}

void SvmVcpu::inject_nmi() {
    vmcb().control.event_injection = 2 | event::kTypeNmi | event::kValid;
}

bool SvmVcpu::event_pending() const {
    return (vmcb().control.event_injection & event::kValid) != 0;
}

void SvmVcpu::request_interrupt_window(bool enable) {
    VmcbControl& control = vmcb().control;
    constexpr uint64_t kWindow = kVirtualIrq | kVirtualInterruptPriorityHighest | kVirtualIgnoreTpr;
    if (enable) {
        control.virtual_interrupt |= kWindow;
        control.intercept_misc1 |= intercept1::kVintr;
    } else {
        control.virtual_interrupt &= ~kWindow;
        control.intercept_misc1 &= ~intercept1::kVintr;
    }
}

bool SvmVcpu::interrupts_enabled() const {
    return (registers_.rflags & kRflagsIf) != 0 && (vmcb().control.interrupt_shadow & 1) == 0;
}

uint64_t SvmVcpu::guest_tsc() const {
    return x86::rdtsc() + vmcb().control.tsc_offset;
}

void SvmVcpu::set_guest_tsc(uint64_t value) {
    vmcb().control.tsc_offset = value - x86::rdtsc();
}

ErrorOr<uint64_t> SvmVcpu::host_save_page() {
    const uint32_t cpu = x86::this_cpu().index;
    if (g_host_save_pages[cpu] == 0) {
        const uint64_t page = TRY(frames_->allocate(1));
        memset(direct<void>(page), 0, mm::kPageSize);
        g_host_save_pages[cpu] = page;
    }
    return g_host_save_pages[cpu];
}

ErrorOr<vmm::VcpuExit> SvmVcpu::run() {
    const uint64_t host_page = TRY(host_save_page());
    Vmcb& block = vmcb();
    const uint32_t cpu = x86::this_cpu().index;
    // No flush-by-ASID under TCG: flush everything whenever this VMCB's translations may be
    // stale on this CPU (new nested tables, a migration, or another partition used the ASID).
    uint64_t& asid_owner = g_asid_owner[cpu][block.control.guest_asid];
    const bool stale = flush_pending_ || cpu != last_cpu_ || asid_owner != block.control.nested_cr3;
    block.control.tlb_control = stale ? kTlbControlFlushAll : kTlbControlNothing;
    asid_owner = block.control.nested_cr3;
    flush_pending_ = false;
    last_cpu_ = cpu;

    block.state.rax = registers_.rax;
    block.state.rsp = registers_.rsp;
    block.state.rip = registers_.rip;
    block.state.rflags = registers_.rflags;
    // XCR0 is not part of the VMCB: the guest's goes in just before the entry and the host's
    // back right after the exit, so the guest's XGETBV/XSAVE/AVX see its own value. The core
    // code in between uses no extended state, so the exact spot does not matter.
    const uint64_t host_xcr0 = x86::host_xcr0();
    if (host_xcr0 != 0 && xcr0_ != host_xcr0)
        x86::xsetbv(0, xcr0_);
    svm_run_guest(vmcb_physical_, &registers_, host_page);
    if (host_xcr0 != 0)
        take_back_xcr0(host_xcr0);
    registers_.rax = block.state.rax;
    registers_.rsp = block.state.rsp;
    registers_.rip = block.state.rip;
    registers_.rflags = block.state.rflags;

    // An event whose delivery the exit interrupted (e.g. a nested page fault while pushing an
    // exception frame) must be delivered again, else the guest silently loses it.
    const uint64_t interrupted = block.control.exit_int_info;
    block.control.event_injection = (interrupted & event::kValid) ? interrupted : 0;
    return decode_exit();
}

vmm::VcpuExit SvmVcpu::decode_exit() {
    const VmcbControl& control = vmcb().control;
    vmm::VcpuExit exit;
    // 32-bit comparison on purpose: see exit_codes.hpp.
    exit.raw_code = static_cast<uint32_t>(control.exit_code);
    const virt::CpuVirtualization* bsp = virt::cpu_state(0);
    // NRIP save: the next RIP of instruction intercepts (and a hint to decode nothing).
    if (bsp != nullptr && bsp->features.nrip_save && exit.raw_code != exit_code::kNestedPageFault)
        exit.next_rip = control.next_rip;
    // Decode assists: the bytes at RIP of a nested page fault, fetched by the CPU.
    if (bsp != nullptr && bsp->features.decode_assists &&
        exit.raw_code == exit_code::kNestedPageFault) {
        exit.instruction_byte_count =
            control.guest_instruction_bytes_count > 15 ? 15 : control.guest_instruction_bytes_count;
        memcpy(exit.instruction_bytes, control.guest_instruction_bytes,
               exit.instruction_byte_count);
    }
    switch (exit.raw_code) {
    case exit_code::kCpuid:
        exit.reason = vmm::ExitReason::cpuid;
        break;
    case exit_code::kMsr:
        exit.reason =
            control.exit_info_1 == 1 ? vmm::ExitReason::msr_write : vmm::ExitReason::msr_read;
        exit.msr = static_cast<uint32_t>(registers_.rcx);
        exit.msr_value = (registers_.rdx << 32) | static_cast<uint32_t>(registers_.rax);
        break;
    case exit_code::kIoio: {
        const uint64_t info = control.exit_info_1;
        exit.reason = vmm::ExitReason::io;
        exit.io.port = static_cast<uint16_t>(info >> 16);
        exit.io.in = (info & 1) != 0;
        exit.io.string = (info & (1u << 2)) != 0;
        exit.io.repeat = (info & (1u << 3)) != 0;
        exit.io.size = (info & (1u << 6)) ? 4 : (info & (1u << 5)) ? 2 : 1;
        exit.io.next_rip = control.exit_info_2;
        break;
    }
    case exit_code::kHlt:
        exit.reason = vmm::ExitReason::hlt;
        break;
    case exit_code::kPause:
        exit.reason = vmm::ExitReason::pause;
        break;
    case exit_code::kShutdown:
        exit.reason = vmm::ExitReason::shutdown;
        break;
    case exit_code::kNestedPageFault:
        exit.reason = vmm::ExitReason::nested_page_fault;
        exit.memory.guest_physical = control.exit_info_2;
        exit.memory.present = (control.exit_info_1 & 1) != 0;
        exit.memory.write = (control.exit_info_1 & 2) != 0;
        exit.memory.execute = (control.exit_info_1 & (1u << 4)) != 0;
        break;
    case exit_code::kVmmcall:
        exit.reason = vmm::ExitReason::hypercall;
        break;
    case exit_code::kVmrun:
    case exit_code::kVmload:
    case exit_code::kVmsave:
    case exit_code::kStgi:
    case exit_code::kClgi:
    case exit_code::kSkinit:
    case exit_code::kInvlpga:
    case exit_code::kRdtscp:
    case exit_code::kMonitor:
    case exit_code::kMwait:
    case exit_code::kMwaitConditional:
        // Instructions of features the guest does not have: what hardware without them does.
        inject_exception(kVectorInvalidOpcode, false, 0);
        exit.reason = vmm::ExitReason::retry;
        break;
    case exit_code::kXsetbv:
        emulate_xsetbv();
        exit.reason = vmm::ExitReason::retry;
        break;
    case exit_code::kInvd:
        // INVD would throw away the host's dirty cache lines too; doing nothing is what a
        // write-back INVD (WBINVD minus the flush the guest cannot observe) looks like.
        registers_.rip += 2;
        exit.reason = vmm::ExitReason::retry;
        break;
    case exit_code::kIntr:
        // The interrupt is still pending in the local APIC and the core runs with IF = 0: open
        // a one-instruction window so the host's handler takes it now (else the next VMRUN
        // would exit for it again at once).
        asm volatile("sti; nop; cli" ::: "memory");
        exit.reason = vmm::ExitReason::host_interrupt;
        break;
    case exit_code::kVintr:
        // The window is open: the virtual interrupt only served to find it.
        request_interrupt_window(false);
        exit.reason = vmm::ExitReason::interrupt_window;
        break;
    case exit_code::kNmi:
    case exit_code::kSmi:
    case exit_code::kInit:
        // The host takes the event once svm_run_guest sets GIF again.
        exit.reason = vmm::ExitReason::host_interrupt;
        break;
    case exit_code::kInvalid:
        exit.reason = vmm::ExitReason::invalid_state;
        break;
    default:
        exit.reason = vmm::ExitReason::unhandled;
        break;
    }
    return exit;
}

void SvmVcpu::take_back_xcr0(uint64_t host_xcr0) {
    // Read back rather than trust xcr0_: where XSETBV does not exit although intercepted (QEMU's
    // TCG before 8.1 ignores that intercept), the guest set XCR0 itself, under the CPU's rules
    // rather than ours. Should that have enabled a component whose state the core does not
    // switch (only possible on such a CPU, for a guest that ignores CPUID), it is taken away
    // again: dropping whole components above AVX leaves a value XSETBV accepts.
    const uint64_t live = x86::xgetbv(0);
    if (live != host_xcr0)
        x86::xsetbv(0, host_xcr0);
    const uint64_t switched = vmm::guest_xcr0_components();
    xcr0_ = (live & ~switched) == 0 ? live : live & switched;
}

void SvmVcpu::emulate_xsetbv() {
    const VmcbState& state = vmcb().state;
    vmm::XsetbvAttempt attempt;
    attempt.cr4 = state.cr4;
    attempt.cpl = state.cpl;
    attempt.ecx = static_cast<uint32_t>(registers_.rcx);
    attempt.value = (static_cast<uint64_t>(static_cast<uint32_t>(registers_.rdx)) << 32) |
                    static_cast<uint32_t>(registers_.rax);
    // The CPU may already have raised #UD/#GP itself before the intercept (the APM checks
    // simple exceptions first; QEMU's TCG checks the intercept first): decide all of it here.
    switch (vmm::check_xsetbv(attempt, vmm::guest_xcr0_components())) {
    case vmm::XsetbvOutcome::write:
        xcr0_ = attempt.value;
        registers_.rip += kXsetbvLength;
        break;
    case vmm::XsetbvOutcome::invalid_opcode:
        inject_exception(kVectorInvalidOpcode, false, 0);
        break;
    case vmm::XsetbvOutcome::general_protection:
        inject_exception(kVectorGeneralProtection, true, 0);
        break;
    }
}

} // namespace halcyon::svm
