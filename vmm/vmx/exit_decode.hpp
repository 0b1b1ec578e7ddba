// VM exits to the backend interface's neutral exits (vmm::VcpuExit), the way the SVM backend
// maps #VMEXIT codes, so the partition sees the same reasons on both vendors:
//
//   CPUID 10, RDMSR 31, WRMSR 32, HLT 12, PAUSE 40, VMCALL 18, I/O 30     -> the same reasons,
//       with next_rip = RIP + the VM-exit instruction length (what SVM's NRIP save reports)
//   EPT violation 48 (qualification: read/write/fetch, and whether the translation existed)
//                                                                         -> nested_page_fault
//   triple fault 2                                                        -> shutdown
//   external interrupt 1, NMI (0 with type NMI), #MC (0, vector 18), INIT 3, SMI 5/6
//                                                                         -> host_interrupt
//   interrupt window 7                                                    -> interrupt_window
//   VM-entry failure (bit 31: 33 guest state, 34 MSR loading, 41 machine check)
//                                                                         -> invalid_state
//   VMX instructions 19-27, INVEPT, INVVPID, VMFUNC, GETSEC, RSM, MONITOR, MWAIT, RDTSCP,
//   INVPCID, ENCLS, XSAVES/XRSTORS                                       -> #UD, retry
//   INVD, WBINVD (no effect a guest could tell), XSETBV (emulated), CR0/CR4 writes to a
//   host-owned bit (emulated), writes to the syscall MSRs the backend switches -> retry
//   EPT misconfiguration 49, task switch 9, anything unexpected           -> unhandled
//
// Pure: the caller reads the VMCS fields into RawExit and carries out `action`.
#pragma once

#include "vmm/cpu_backend.hpp"

#include <stdint.h>

namespace halcyon::vmx {

// The VMCS fields one exit is decoded from (each read only when the reason needs it; the rest
// stay 0).
struct RawExit {
    uint32_t reason = 0; // the full exit reason field (bit 31: entry failure)
    uint64_t qualification = 0;
    uint32_t instruction_length = 0;
    uint64_t guest_physical = 0;    // EPT violations and misconfigurations
    uint32_t interruption_info = 0; // exits for exceptions and NMIs
    uint64_t rip = 0;
    uint64_t rax = 0, rcx = 0, rdx = 0;
};

enum class ExitAction : uint8_t {
    report,                // the partition handles `exit`
    inject_invalid_opcode, // an instruction of a feature the guest does not have
    emulate_control_register,
    emulate_xsetbv,
    emulate_msr_write,  // WRMSR of a syscall MSR the backend switches itself
    skip_instruction,   // INVD, WBINVD: done by doing nothing
    host_nmi,           // an NMI meant for the host: run the host's handler
    host_machine_check, // likewise for a machine check
    external_interrupt, // a host interrupt is pending: let the host take it
    interrupt_window,   // stop asking for interrupt-window exits
    nmi_window,         // stop asking for NMI-window exits, deliver the held-back NMI
    entry_failure,      // name the failing check, then report invalid_state
    run_again,          // nothing to do (TPR below threshold)
};

struct DecodedExit {
    vmm::VcpuExit exit;
    ExitAction action = ExitAction::report;
};

// I/O exit qualification (SDM vol. 3, table 28-5).
[[nodiscard]] vmm::IoExit decode_io_qualification(uint64_t qualification, uint64_t next_rip);

// EPT-violation qualification (SDM vol. 3, table 28-7).
namespace ept_violation {
inline constexpr uint64_t kRead = 1ull << 0;
inline constexpr uint64_t kWrite = 1ull << 1;
inline constexpr uint64_t kFetch = 1ull << 2;
inline constexpr uint64_t kReadable = 1ull << 3;
inline constexpr uint64_t kWritable = 1ull << 4;
inline constexpr uint64_t kExecutable = 1ull << 5;
inline constexpr uint64_t kLinearAddressValid = 1ull << 7;
inline constexpr uint64_t kNmiUnblockingDueToIret = 1ull << 12;
} // namespace ept_violation

[[nodiscard]] vmm::MemoryExit decode_ept_violation(uint64_t qualification, uint64_t guest_physical);

// Whether a WRMSR exit of `msr` is the backend's own (STAR, LSTAR, CSTAR, SFMASK: VT-x does not
// switch them, so the backend keeps the guest's copies).
[[nodiscard]] bool is_backend_msr(uint32_t msr);

[[nodiscard]] DecodedExit decode_exit(const RawExit& raw);

} // namespace halcyon::vmx
