// The VT-x backend around each entry: the fields written before it (events, windows, the
// interrupt shadow), the exit decoded after it, the exits the backend completes itself (CR0/CR4
// writes, XSETBV, the syscall MSRs, host NMIs and interrupts) and the diagnostics of a failed
// entry.
#include "boot/handoff/handoff.hpp"
#include "mm/ept.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/fpu_state.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/entry_diagnostics.hpp"
#include "vmm/vmx/exit_reasons.hpp"
#include "vmm/vmx/guest_state_check.hpp"
#include "vmm/vmx/hw/vmx_instructions.hpp"
#include "vmm/vmx/hw/vmx_vcpu.hpp"

namespace halcyon::vmx::hw {
namespace {

constexpr uint8_t kVectorInvalidOpcode = 6;
constexpr uint8_t kVectorGeneralProtection = 13;
constexpr uint64_t kPendingDebugBs = 1ull << 14;
constexpr uint16_t kAttributeLong = 1u << 9; // vmm::Segment attributes: L
constexpr uint32_t kMsrLstar = 0xC000'0082;
constexpr uint32_t kMsrCstar = 0xC000'0083;
constexpr uint32_t kMsrSfmask = 0xC000'0084;
// Instruction-error "numbers" of failed entries as VcpuExit::raw_code (exit reasons stay below).
constexpr uint32_t kRawCodeInstructionError = 0xFFFF'0000;

using ull = unsigned long long;

GuestStateSnapshot read_guest_snapshot() {
    GuestStateSnapshot s;
    s.cr0 = vmread(field::kGuestCr0);
    s.cr3 = vmread(field::kGuestCr3);
    s.cr4 = vmread(field::kGuestCr4);
    s.dr7 = vmread(field::kGuestDr7);
    s.rsp = vmread(field::kGuestRsp);
    s.rip = vmread(field::kGuestRip);
    s.rflags = vmread(field::kGuestRflags);
    s.efer = vmread(field::kGuestEfer);
    s.pat = vmread(field::kGuestPat);
    s.sysenter_esp = vmread(field::kGuestSysenterEsp);
    s.sysenter_eip = vmread(field::kGuestSysenterEip);
    s.pending_debug_exceptions = vmread(field::kGuestPendingDebugExceptions);
    for (int i = 0; i < kSegmentRegisterCount; ++i) {
        const auto which = static_cast<SegmentRegister>(i);
        s.segments[i].selector = static_cast<uint16_t>(vmread(guest_selector(which)));
        s.segments[i].limit = static_cast<uint32_t>(vmread(guest_limit(which)));
        s.segments[i].access_rights = static_cast<uint32_t>(vmread(guest_access_rights(which)));
        s.segments[i].base = vmread(guest_base(which));
    }
    s.gdtr_base = vmread(field::kGuestGdtrBase);
    s.idtr_base = vmread(field::kGuestIdtrBase);
    s.gdtr_limit = static_cast<uint32_t>(vmread(field::kGuestGdtrLimit));
    s.idtr_limit = static_cast<uint32_t>(vmread(field::kGuestIdtrLimit));
    s.interruptibility = static_cast<uint32_t>(vmread(field::kGuestInterruptibility));
    s.activity_state = static_cast<uint32_t>(vmread(field::kGuestActivityState));
    s.vmcs_link_pointer = vmread(field::kVmcsLinkPointer);
    s.pin_based = static_cast<uint32_t>(vmread(field::kPinBasedControls));
    s.secondary = static_cast<uint32_t>(vmread(field::kSecondaryProcessorControls));
    s.entry_controls = static_cast<uint32_t>(vmread(field::kEntryControls));
    s.entry_interruption_info = static_cast<uint32_t>(vmread(field::kEntryInterruptionInfo));
    s.entry_exception_error_code = static_cast<uint32_t>(vmread(field::kEntryExceptionErrorCode));
    s.entry_instruction_length = static_cast<uint32_t>(vmread(field::kEntryInstructionLength));
    return s;
}

void log_violation(const char* what, const Violation& violation) {
    if (violation)
        log::error("VT-x: %s: failing check: %s (value %#llx)", what, violation.check,
                   static_cast<ull>(violation.detail));
    else
        log::error("VT-x: %s: none of Halcyon's re-run checks fails (a check it does not make)",
                   what);
}

} // namespace

void VmxVcpu::load_pdptes() {
    const vmm::SystemRegisters& s = system_.visible;
    const bool pae_paging =
        (s.cr0 & cr0::kPg) != 0 && (s.cr4 & cr4::kPae) != 0 && (s.efer & efer::kLma) == 0;
    constexpr VmcsField kPdptes[] = {field::kGuestPdpte0, field::kGuestPdpte1, field::kGuestPdpte2,
                                     field::kGuestPdpte3};
    if (!pae_paging)
        return;
    const mm::PhysicalWindow window = mm::PhysicalWindow::direct_map();
    const auto ept = mm::EptPageTable::adopt(mm::WindowTableMemory(window),
                                             mm::FrameTableAllocator(*frames_, window),
                                             setup_.nested_root, mm::LargePages{});
    const uint64_t table = s.cr3 & 0xFFFF'FFE0; // PAE: CR3 bits 31:5
    for (int i = 0; i < 4; ++i) {
        const auto translation = ept.lookup(table + 8 * static_cast<uint64_t>(i));
        const uint64_t entry =
            translation ? *window.to_virtual<uint64_t>(translation->physical) : 0;
        (void)vmwrite(kPdptes[i], entry);
    }
}

void VmxVcpu::prepare_entry_fields() {
    uint32_t blocking = interruptibility_;
    if (registers_.rip != exit_rip_)
        blocking &= ~interruptibility::kShadow; // the instruction was completed for the guest
    if (restore_nmi_blocking_ && !event_valid(reinjection_.info))
        blocking |= interruptibility::kBlockingByNmi;
    restore_nmi_blocking_ = false;
    interruptibility_ = blocking;
    (void)vmwrite(field::kGuestInterruptibility, blocking);
    // VM entry wants BS in the pending debug exceptions exactly when RFLAGS.TF is set inside an
    // interrupt shadow (the single-step trap the shadow held back).
    uint64_t pending_debug = pending_debug_;
    if ((blocking & interruptibility::kShadow) != 0) {
        if ((registers_.rflags & rflags::kTf) != 0)
            pending_debug |= kPendingDebugBs;
        else
            pending_debug &= ~kPendingDebugBs;
    }
    (void)vmwrite(field::kGuestPendingDebugExceptions, pending_debug);
    (void)vmwrite(field::kGuestRip, registers_.rip);
    (void)vmwrite(field::kGuestRsp, registers_.rsp);
    (void)vmwrite(field::kGuestRflags, registers_.rflags);

    injected_ = false;
    bool hold_interrupt = false;
    bool hold_nmi = false;
    EventInjection event = reinjection_;
    if (!event_valid(event.info) && event_valid(pending_event_.info)) {
        event = pending_event_;
        if (event_type(event.info) == EventType::hardware_exception)
            event = exception_injection(event_vector(event.info), true, event.error_code,
                                        guest_protected_mode());
        if (can_inject_now(event, blocking, registers_.rflags, config_->virtual_nmis)) {
            injected_ = true;
        } else {
            // The guest cannot take it yet (the partition checks IF, not the shadow): hold it
            // and ask for the window in which it can.
            hold_interrupt = event_type(event.info) == EventType::external_interrupt;
            hold_nmi = event_type(event.info) == EventType::nmi;
            event = EventInjection{};
        }
    }
    if (event_valid(event.info)) {
        (void)vmwrite(field::kEntryExceptionErrorCode, event.error_code);
        (void)vmwrite(field::kEntryInstructionLength, event.instruction_length);
    }
    (void)vmwrite(field::kEntryInterruptionInfo, event.info);

    uint32_t primary_value = config_->primary;
    if (window_requested_ || hold_interrupt || (hold_nmi && !config_->nmi_window_exiting))
        primary_value |= primary::kInterruptWindowExiting;
    if (hold_nmi && config_->nmi_window_exiting)
        primary_value |= primary::kNmiWindowExiting;
    if (primary_value != primary_in_vmcs_) {
        (void)vmwrite(field::kPrimaryProcessorControls, primary_value);
        primary_in_vmcs_ = primary_value;
    }
    if (tsc_offset_ != tsc_offset_in_vmcs_) {
        (void)vmwrite(field::kTscOffset, tsc_offset_);
        tsc_offset_in_vmcs_ = tsc_offset_;
    }
}

ErrorOr<vmm::VcpuExit> VmxVcpu::after_exit() {
    RawExit raw;
    raw.reason = static_cast<uint32_t>(vmread(field::kExitReason));
    registers_.rip = vmread(field::kGuestRip);
    registers_.rsp = vmread(field::kGuestRsp);
    registers_.rflags = vmread(field::kGuestRflags);
    exit_rip_ = registers_.rip;
    interruptibility_ = static_cast<uint32_t>(vmread(field::kGuestInterruptibility));
    pending_debug_ = vmread(field::kGuestPendingDebugExceptions);
    system_stale_ = true;
    if (injected_)
        pending_event_ = EventInjection{};
    injected_ = false;

    raw.qualification = vmread(field::kExitQualification);
    raw.instruction_length = static_cast<uint32_t>(vmread(field::kExitInstructionLength));
    // An event whose delivery the exit interrupted (e.g. an EPT violation while pushing an
    // exception frame) must be delivered again, else the guest silently loses it.
    const auto idt_vectoring = static_cast<uint32_t>(vmread(field::kIdtVectoringInfo));
    reinjection_ = EventInjection{};
    if (event_valid(idt_vectoring)) {
        const auto error_code = static_cast<uint32_t>(vmread(field::kIdtVectoringErrorCode));
        reinjection_ = *reinjection(idt_vectoring, error_code, raw.instruction_length);
    }
    const uint32_t basic_reason = raw.reason & exit_reason::kBasicMask;
    if (basic_reason == exit_reason::kEptViolation ||
        basic_reason == exit_reason::kEptMisconfiguration)
        raw.guest_physical = vmread(field::kGuestPhysicalAddress);
    if (basic_reason == exit_reason::kExceptionOrNmi)
        raw.interruption_info = static_cast<uint32_t>(vmread(field::kExitInterruptionInfo));
    // With virtual NMIs, a fault in an IRET that had unblocked NMIs leaves NMI blocking to the
    // VMM: the IRET runs again, and until it completes NMIs must stay blocked.
    if (config_->virtual_nmis && !event_valid(idt_vectoring)) {
        if ((basic_reason == exit_reason::kEptViolation &&
             (raw.qualification & ept_violation::kNmiUnblockingDueToIret) != 0) ||
            (basic_reason == exit_reason::kExceptionOrNmi &&
             (raw.interruption_info & interruption::kNmiUnblockingDueToIret) != 0))
            restore_nmi_blocking_ = true;
    }
    raw.rip = registers_.rip;
    raw.rax = registers_.rax;
    raw.rcx = registers_.rcx;
    raw.rdx = registers_.rdx;
    DecodedExit decoded = decode_exit(raw);
    perform(decoded, raw.qualification);
    if (decoded.exit.reason == vmm::ExitReason::unhandled &&
        basic_reason == exit_reason::kEptMisconfiguration)
        log::error("VT-x: EPT misconfiguration at GPA %#llx (EPT pointer %#llx)",
                   static_cast<ull>(raw.guest_physical), static_cast<ull>(ept_pointer_));
    return decoded.exit;
}

void VmxVcpu::perform(DecodedExit& decoded, uint64_t qualification) {
    vmm::VcpuExit& exit = decoded.exit;
    switch (decoded.action) {
    case ExitAction::report:
    case ExitAction::nmi_window: // the held-back NMI goes in at the next entry
    case ExitAction::run_again:
        break;
    case ExitAction::inject_invalid_opcode:
        inject_exception(kVectorInvalidOpcode, false, 0);
        break;
    case ExitAction::emulate_control_register:
        emulate_control_register(qualification, exit.next_rip, exit);
        break;
    case ExitAction::emulate_xsetbv:
        emulate_xsetbv(exit.next_rip);
        break;
    case ExitAction::emulate_msr_write:
        emulate_syscall_msr_write(exit.msr, exit.msr_value, exit.next_rip);
        break;
    case ExitAction::skip_instruction:
        registers_.rip = exit.next_rip;
        break;
    case ExitAction::host_nmi:
        // The NMI was consumed by the exit: run the host's NMI handler as if it had arrived
        // here (its IRET also ends the NMI blocking the exit left).
        asm volatile("int $2" ::: "memory");
        break;
    case ExitAction::host_machine_check:
        asm volatile("int $18" ::: "memory");
        break;
    case ExitAction::external_interrupt:
        // The interrupt is still pending in the local APIC (no acknowledge on exit) and the
        // core runs with IF = 0: open a one-instruction window for the host's handler.
        asm volatile("sti; nop; cli" ::: "memory");
        break;
    case ExitAction::interrupt_window:
        window_requested_ = false; // the window is open: the request is answered
        break;
    case ExitAction::entry_failure:
        log_entry_failure(exit.raw_code, qualification);
        break;
    }
}

void VmxVcpu::emulate_control_register(uint64_t qualification, uint64_t next_rip,
                                       vmm::VcpuExit& exit) {
    const CrAccess access = decode_cr_access(qualification);
    if (access.kind != CrAccessKind::mov_to_cr ||
        (access.control_register != 0 && access.control_register != 4)) {
        exit.reason = vmm::ExitReason::unhandled; // nothing else is configured to exit
        return;
    }
    (void)system_registers(); // fresh CR0/CR4/EFER/CS
    ControlRegisters current = system_.control;
    current.code_64bit = (system_.visible.efer & efer::kLma) != 0 &&
                         (system_.visible.cs.attributes & kAttributeLong) != 0;
    uint64_t value = register_by_number(registers_, access.general_register);
    if (!current.code_64bit)
        value = static_cast<uint32_t>(value); // a 32-bit operand outside 64-bit code
    const CrWriteOutcome outcome = access.control_register == 0
                                       ? emulate_cr0_write(current, value, *config_)
                                       : emulate_cr4_write(current, value, *config_);
    if (outcome.general_protection) {
        inject_exception(kVectorGeneralProtection, true, 0);
        return;
    }
    system_.control = outcome.registers;
    system_.visible.cr0 = outcome.registers.visible_cr0(*config_);
    system_.visible.cr4 = outcome.registers.visible_cr4(*config_);
    system_.visible.efer = outcome.registers.efer;
    system_dirty_ = true;
    if (outcome.flush_tlb)
        flush_vpid_ = true;
    registers_.rip = next_rip;
}

void VmxVcpu::emulate_xsetbv(uint64_t next_rip) {
    const vmm::SystemRegisters system = system_registers();
    vmm::XsetbvAttempt attempt;
    attempt.cr4 = system.cr4;
    attempt.cpl = system.cpl;
    attempt.ecx = static_cast<uint32_t>(registers_.rcx);
    attempt.value = (static_cast<uint64_t>(static_cast<uint32_t>(registers_.rdx)) << 32) |
                    static_cast<uint32_t>(registers_.rax);
    // XSETBV exits unconditionally under VT-x, before the CPU checks anything: decide it all.
    switch (vmm::check_xsetbv(attempt, vmm::guest_xcr0_components())) {
    case vmm::XsetbvOutcome::write:
        xcr0_ = attempt.value;
        registers_.rip = next_rip;
        break;
    case vmm::XsetbvOutcome::invalid_opcode:
        inject_exception(kVectorInvalidOpcode, false, 0);
        break;
    case vmm::XsetbvOutcome::general_protection:
        inject_exception(kVectorGeneralProtection, true, 0);
        break;
    }
}

void VmxVcpu::emulate_syscall_msr_write(uint32_t msr, uint64_t value, uint64_t next_rip) {
    // LSTAR and CSTAR hold code addresses (non-canonical: #GP); SFMASK's upper half is reserved.
    if (((msr == kMsrLstar || msr == kMsrCstar) && !is_canonical(value)) ||
        (msr == kMsrSfmask && (value >> 32) != 0)) {
        inject_exception(kVectorGeneralProtection, true, 0);
        return;
    }
    uint64_t* slot = msr == kMsrLstar    ? &syscall_.lstar
                     : msr == kMsrCstar  ? &syscall_.cstar
                     : msr == kMsrSfmask ? &syscall_.sfmask
                                         : &syscall_.star;
    *slot = value;
    x86::wrmsr(msr, value); // this CPU holds this vCPU's syscall MSRs (it just ran it)
    registers_.rip = next_rip;
}

vmm::VcpuExit VmxVcpu::entry_failed_exit(uint32_t instruction_error) const {
    vmm::VcpuExit exit;
    exit.reason = vmm::ExitReason::invalid_state;
    exit.raw_code = kRawCodeInstructionError | instruction_error;
    if (instruction_error == 0) {
        log::error("VT-x: VMLAUNCH/VMRESUME failed with VMfailInvalid (no current VMCS)");
        return exit;
    }
    log::error("VT-x: VMLAUNCH/VMRESUME failed: %s (VM-instruction error %u)",
               instruction_error_name(instruction_error), instruction_error);
    if (instruction_error == 7) {
        ControlSnapshot c;
        c.pin_based = static_cast<uint32_t>(vmread(field::kPinBasedControls));
        c.primary = static_cast<uint32_t>(vmread(field::kPrimaryProcessorControls));
        c.secondary = static_cast<uint32_t>(vmread(field::kSecondaryProcessorControls));
        c.exit = static_cast<uint32_t>(vmread(field::kExitControls));
        c.entry = static_cast<uint32_t>(vmread(field::kEntryControls));
        c.cr3_target_count = static_cast<uint32_t>(vmread(field::kCr3TargetCount));
        c.msr_bitmap = vmread(field::kMsrBitmap);
        c.virtual_apic = vmread(field::kVirtualApicAddress);
        c.tpr_threshold = static_cast<uint32_t>(vmread(field::kTprThreshold));
        c.ept_pointer = vmread(field::kEptPointer);
        c.vpid = static_cast<uint16_t>(vmread(field::kVpid));
        c.exit_msr_store_count = static_cast<uint32_t>(vmread(field::kExitMsrStoreCount));
        c.exit_msr_load_count = static_cast<uint32_t>(vmread(field::kExitMsrLoadCount));
        c.entry_msr_load_count = static_cast<uint32_t>(vmread(field::kEntryMsrLoadCount));
        Violation violation = find_control_violation(c, *config_);
        if (!violation)
            violation = find_event_injection_violation(read_guest_snapshot());
        log_violation("control fields", violation);
    } else if (instruction_error == 8) {
        HostSnapshot h;
        h.cr0 = vmread(field::kHostCr0);
        h.cr3 = vmread(field::kHostCr3);
        h.cr4 = vmread(field::kHostCr4);
        h.efer = vmread(field::kHostEfer);
        h.pat = vmread(field::kHostPat);
        h.es = static_cast<uint16_t>(vmread(field::kHostEsSelector));
        h.cs = static_cast<uint16_t>(vmread(field::kHostCsSelector));
        h.ss = static_cast<uint16_t>(vmread(field::kHostSsSelector));
        h.ds = static_cast<uint16_t>(vmread(field::kHostDsSelector));
        h.fs = static_cast<uint16_t>(vmread(field::kHostFsSelector));
        h.gs = static_cast<uint16_t>(vmread(field::kHostGsSelector));
        h.tr = static_cast<uint16_t>(vmread(field::kHostTrSelector));
        h.fs_base = vmread(field::kHostFsBase);
        h.gs_base = vmread(field::kHostGsBase);
        h.tr_base = vmread(field::kHostTrBase);
        h.gdtr_base = vmread(field::kHostGdtrBase);
        h.idtr_base = vmread(field::kHostIdtrBase);
        h.sysenter_esp = vmread(field::kHostSysenterEsp);
        h.sysenter_eip = vmread(field::kHostSysenterEip);
        h.rip = vmread(field::kHostRip);
        h.exit_controls = static_cast<uint32_t>(vmread(field::kExitControls));
        log_violation("host-state fields", find_host_state_violation(h, *config_));
    }
    return exit;
}

void VmxVcpu::log_entry_failure(uint32_t reason, uint64_t qualification) const {
    log::error("VT-x: %s (exit reason %#x, qualification %#llx) at RIP %#llx",
               entry_failure_name(reason, qualification), reason, static_cast<ull>(qualification),
               static_cast<ull>(registers_.rip));
    log_violation("guest state", find_guest_state_violation(read_guest_snapshot(), *config_));
}

} // namespace halcyon::vmx::hw
