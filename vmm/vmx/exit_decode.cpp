#include "vmm/vmx/exit_decode.hpp"

#include "vmm/vmx/event_injection.hpp"
#include "vmm/vmx/exit_reasons.hpp"

namespace halcyon::vmx {
namespace {

constexpr uint8_t kVectorMachineCheck = 18;

constexpr const char* kNames[] = {
    "exception-or-nmi",
    "external-interrupt",
    "triple-fault",
    "init",
    "sipi",
    "io-smi",
    "other-smi",
    "interrupt-window",
    "nmi-window",
    "task-switch",
    "cpuid",
    "getsec",
    "hlt",
    "invd",
    "invlpg",
    "rdpmc",
    "rdtsc",
    "rsm",
    "vmcall",
    "vmclear",
    "vmlaunch",
    "vmptrld",
    "vmptrst",
    "vmread",
    "vmresume",
    "vmwrite",
    "vmxoff",
    "vmxon",
    "cr-access",
    "dr-access",
    "io",
    "rdmsr",
    "wrmsr",
    "invalid-guest-state",
    "msr-loading",
    "reserved-35",
    "mwait",
    "monitor-trap-flag",
    "reserved-38",
    "monitor",
    "pause",
    "machine-check-during-entry",
    "reserved-42",
    "tpr-below-threshold",
    "apic-access",
    "virtualized-eoi",
    "gdtr-idtr-access",
    "ldtr-tr-access",
    "ept-violation",
    "ept-misconfiguration",
    "invept",
    "rdtscp",
    "preemption-timer",
    "invvpid",
    "wbinvd",
    "xsetbv",
    "apic-write",
    "rdrand",
    "invpcid",
    "vmfunc",
    "encls",
    "rdseed",
    "pml-full",
    "xsaves",
    "xrstors",
};
constexpr uint32_t kNameCount = sizeof(kNames) / sizeof(kNames[0]);

// The next RIP of an intercepted instruction: VT-x reports its length for every
// instruction-caused exit (SDM vol. 3, 28.2.5).
uint64_t next_rip(const RawExit& raw) {
    return raw.rip + raw.instruction_length;
}

} // namespace

const char* exit_reason::name(uint32_t basic_reason) {
    return basic_reason < kNameCount ? kNames[basic_reason] : "unknown";
}

vmm::IoExit decode_io_qualification(uint64_t qualification, uint64_t next_rip_value) {
    vmm::IoExit io{};
    const uint64_t size_code = qualification & 7; // 0: 1 byte, 1: 2 bytes, 3: 4 bytes
    io.size = size_code == 3 ? 4 : size_code == 1 ? 2 : 1;
    io.in = (qualification & (1u << 3)) != 0;
    io.string = (qualification & (1u << 4)) != 0;
    io.repeat = (qualification & (1u << 5)) != 0;
    io.port = static_cast<uint16_t>(qualification >> 16);
    io.next_rip = next_rip_value;
    return io;
}

vmm::MemoryExit decode_ept_violation(uint64_t qualification, uint64_t guest_physical) {
    vmm::MemoryExit memory{};
    memory.guest_physical = guest_physical;
    memory.write = (qualification & ept_violation::kWrite) != 0;
    memory.execute = (qualification & ept_violation::kFetch) != 0;
    // Any permission bit set means the walk found a leaf that just did not allow the access
    // (SVM's "present"); none set means nothing was mapped there.
    memory.present = (qualification & (ept_violation::kReadable | ept_violation::kWritable |
                                       ept_violation::kExecutable)) != 0;
    return memory;
}

bool is_backend_msr(uint32_t msr) {
    switch (msr) {
    case 0xC000'0081: // STAR
    case 0xC000'0082: // LSTAR
    case 0xC000'0083: // CSTAR
    case 0xC000'0084: // SFMASK
        return true;
    default:
        return false;
    }
}

DecodedExit decode_exit(const RawExit& raw) {
    DecodedExit decoded;
    vmm::VcpuExit& exit = decoded.exit;
    exit.raw_code = raw.reason;
    exit.reason = vmm::ExitReason::retry;
    const auto internal = [&](ExitAction action) { decoded.action = action; };
    const auto report = [&](vmm::ExitReason reason) {
        exit.reason = reason;
        decoded.action = ExitAction::report;
    };

    if ((raw.reason & exit_reason::kEntryFailure) != 0) {
        exit.reason = vmm::ExitReason::invalid_state;
        decoded.action = ExitAction::entry_failure;
        return decoded;
    }
    switch (raw.reason & exit_reason::kBasicMask) {
    case exit_reason::kCpuid:
        report(vmm::ExitReason::cpuid);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kRdmsr:
        report(vmm::ExitReason::msr_read);
        exit.msr = static_cast<uint32_t>(raw.rcx);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kWrmsr:
        exit.msr = static_cast<uint32_t>(raw.rcx);
        exit.msr_value = (raw.rdx << 32) | static_cast<uint32_t>(raw.rax);
        exit.next_rip = next_rip(raw);
        if (is_backend_msr(exit.msr))
            internal(ExitAction::emulate_msr_write);
        else
            report(vmm::ExitReason::msr_write);
        break;
    case exit_reason::kIoInstruction:
        report(vmm::ExitReason::io);
        exit.next_rip = next_rip(raw);
        exit.io = decode_io_qualification(raw.qualification, exit.next_rip);
        break;
    case exit_reason::kHlt:
        report(vmm::ExitReason::hlt);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kPause:
        report(vmm::ExitReason::pause);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kVmcall:
        report(vmm::ExitReason::hypercall);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kEptViolation:
        // No instruction length here: the partition decodes the faulting instruction itself.
        report(vmm::ExitReason::nested_page_fault);
        exit.memory = decode_ept_violation(raw.qualification, raw.guest_physical);
        break;
    case exit_reason::kTripleFault:
        report(vmm::ExitReason::shutdown);
        break;
    case exit_reason::kExternalInterrupt:
        exit.reason = vmm::ExitReason::host_interrupt;
        internal(ExitAction::external_interrupt);
        break;
    case exit_reason::kExceptionOrNmi:
        // Only NMIs and machine checks are configured to exit (exception bitmap: #MC).
        if (event_type(raw.interruption_info) == EventType::nmi) {
            exit.reason = vmm::ExitReason::host_interrupt;
            internal(ExitAction::host_nmi);
        } else if (event_type(raw.interruption_info) == EventType::hardware_exception &&
                   event_vector(raw.interruption_info) == kVectorMachineCheck) {
            exit.reason = vmm::ExitReason::host_interrupt;
            internal(ExitAction::host_machine_check);
        } else {
            report(vmm::ExitReason::unhandled);
        }
        break;
    case exit_reason::kInitSignal:
    case exit_reason::kIoSmi:
    case exit_reason::kOtherSmi:
        report(vmm::ExitReason::host_interrupt);
        break;
    case exit_reason::kInterruptWindow:
        exit.reason = vmm::ExitReason::interrupt_window;
        internal(ExitAction::interrupt_window);
        break;
    case exit_reason::kNmiWindow:
        internal(ExitAction::nmi_window);
        break;
    case exit_reason::kControlRegisterAccess:
        internal(ExitAction::emulate_control_register);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kXsetbv:
        internal(ExitAction::emulate_xsetbv);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kInvd:
    case exit_reason::kWbinvd:
        // INVD would throw away the host's dirty cache lines too; without the flush a guest
        // cannot observe, INVD and WBINVD both amount to nothing (as on the SVM backend).
        internal(ExitAction::skip_instruction);
        exit.next_rip = next_rip(raw);
        break;
    case exit_reason::kGetsec:
    case exit_reason::kRsm:
    case exit_reason::kVmclear:
    case exit_reason::kVmlaunch:
    case exit_reason::kVmptrld:
    case exit_reason::kVmptrst:
    case exit_reason::kVmread:
    case exit_reason::kVmresume:
    case exit_reason::kVmwrite:
    case exit_reason::kVmxoff:
    case exit_reason::kVmxon:
    case exit_reason::kInvept:
    case exit_reason::kInvvpid:
    case exit_reason::kVmfunc:
    case exit_reason::kMwait:
    case exit_reason::kMonitor:
    case exit_reason::kRdtscp:
    case exit_reason::kInvpcid:
    case exit_reason::kEncls:
    case exit_reason::kXsaves:
    case exit_reason::kXrstors:
    case exit_reason::kUmwait:
    case exit_reason::kTpause:
        // Instructions of features the guest does not have (VMX, SMX, SGX... are hidden from
        // its CPUID): what hardware without them does.
        internal(ExitAction::inject_invalid_opcode);
        break;
    case exit_reason::kTprBelowThreshold:
        internal(ExitAction::run_again);
        break;
    default:
        // EPT misconfiguration (a bug in our tables), task switches, and whatever the controls
        // should have prevented: the VM cannot go on.
        report(vmm::ExitReason::unhandled);
        break;
    }
    return decoded;
}

} // namespace halcyon::vmx
