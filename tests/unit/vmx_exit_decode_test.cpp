// VM exits to neutral vCPU exits (vmm/vmx/exit_decode.hpp): every reason the AMD-V backend
// produces comes out of the matching VT-x exit.
#include "vmm/vmx/exit_decode.hpp"
#include "vmm/vmx/exit_reasons.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmx;
using vmm::ExitReason;

namespace {

RawExit raw(uint32_t reason) {
    RawExit r;
    r.reason = reason;
    r.rip = 0x1000;
    r.instruction_length = 2;
    return r;
}

} // namespace

TEST(VmxExitDecode, InstructionExitsReportTheNextRip) {
    struct Case {
        uint32_t reason;
        ExitReason expected;
    };
    const Case cases[] = {
        {exit_reason::kCpuid, ExitReason::cpuid},     {exit_reason::kRdmsr, ExitReason::msr_read},
        {exit_reason::kWrmsr, ExitReason::msr_write}, {exit_reason::kHlt, ExitReason::hlt},
        {exit_reason::kPause, ExitReason::pause},     {exit_reason::kVmcall, ExitReason::hypercall},
    };
    for (const Case& c : cases) {
        const DecodedExit d = decode_exit(raw(c.reason));
        EXPECT_EQ(d.exit.reason, c.expected) << exit_reason::name(c.reason);
        EXPECT_EQ(d.action, ExitAction::report);
        EXPECT_EQ(d.exit.next_rip, 0x1002u);
        EXPECT_EQ(d.exit.raw_code, c.reason);
    }
}

TEST(VmxExitDecode, MsrExitsCarryEcxAndEdxEax) {
    RawExit r = raw(exit_reason::kWrmsr);
    r.rcx = 0xFFFF'FFFF'0000'0277; // upper half of RCX is ignored
    r.rax = 0xDEAD'BEEF'0007'0406;
    r.rdx = 0x0007'0406;
    const DecodedExit d = decode_exit(r);
    EXPECT_EQ(d.exit.msr, 0x277u);
    EXPECT_EQ(d.exit.msr_value, 0x0007'0406'0007'0406u);
    // The syscall MSRs VT-x does not switch are the backend's own.
    r.rcx = 0xC000'0082;
    EXPECT_EQ(decode_exit(r).action, ExitAction::emulate_msr_write);
    EXPECT_EQ(decode_exit(raw(exit_reason::kRdmsr)).action, ExitAction::report);
}

TEST(VmxExitDecode, IoQualificationIsDecoded) {
    // IN AL, DX from port 0x3F8: size code 0, direction IN (bit 3), DX operand.
    vmm::IoExit io = decode_io_qualification(0x03F8'0008, 0x2002);
    EXPECT_EQ(io.port, 0x3F8);
    EXPECT_EQ(io.size, 1);
    EXPECT_TRUE(io.in);
    EXPECT_FALSE(io.string);
    EXPECT_FALSE(io.repeat);
    EXPECT_EQ(io.next_rip, 0x2002u);
    // REP OUTSW to port 0x1F0: size code 1, string (bit 4), REP (bit 5).
    io = decode_io_qualification(0x01F0'0031, 0);
    EXPECT_EQ(io.port, 0x1F0);
    EXPECT_EQ(io.size, 2);
    EXPECT_FALSE(io.in);
    EXPECT_TRUE(io.string);
    EXPECT_TRUE(io.repeat);
    // OUT 0x80, EAX: size code 3, immediate operand (bit 6).
    io = decode_io_qualification(0x0080'0043, 0);
    EXPECT_EQ(io.port, 0x80);
    EXPECT_EQ(io.size, 4);
    RawExit r = raw(exit_reason::kIoInstruction);
    r.qualification = 0x0061'0008;
    const DecodedExit d = decode_exit(r);
    EXPECT_EQ(d.exit.reason, ExitReason::io);
    EXPECT_EQ(d.exit.io.port, 0x61);
    EXPECT_EQ(d.exit.io.next_rip, 0x1002u);
}

TEST(VmxExitDecode, EptViolationsBecomeNestedPageFaults) {
    RawExit r = raw(exit_reason::kEptViolation);
    r.guest_physical = 0xFEE0'0030;
    r.qualification = ept_violation::kRead | ept_violation::kLinearAddressValid;
    DecodedExit d = decode_exit(r);
    EXPECT_EQ(d.exit.reason, ExitReason::nested_page_fault);
    EXPECT_EQ(d.exit.memory.guest_physical, 0xFEE0'0030u);
    EXPECT_FALSE(d.exit.memory.present) << "nothing was mapped there";
    EXPECT_FALSE(d.exit.memory.write);
    EXPECT_EQ(d.exit.next_rip, 0u) << "no instruction length for EPT violations";
    // A write to the read-only all-ones page: the leaf existed (readable, executable).
    r.qualification = ept_violation::kWrite | ept_violation::kReadable |
                      ept_violation::kExecutable | ept_violation::kLinearAddressValid;
    d = decode_exit(r);
    EXPECT_TRUE(d.exit.memory.present);
    EXPECT_TRUE(d.exit.memory.write);
    EXPECT_FALSE(d.exit.memory.execute);
    r.qualification = ept_violation::kFetch;
    EXPECT_TRUE(decode_exit(r).exit.memory.execute);
}

TEST(VmxExitDecode, HostEventsAndWindows) {
    EXPECT_EQ(decode_exit(raw(exit_reason::kTripleFault)).exit.reason, ExitReason::shutdown);
    DecodedExit d = decode_exit(raw(exit_reason::kExternalInterrupt));
    EXPECT_EQ(d.exit.reason, ExitReason::host_interrupt);
    EXPECT_EQ(d.action, ExitAction::external_interrupt);
    RawExit nmi = raw(exit_reason::kExceptionOrNmi);
    nmi.interruption_info = 0x8000'0202; // valid, type NMI, vector 2
    d = decode_exit(nmi);
    EXPECT_EQ(d.exit.reason, ExitReason::host_interrupt);
    EXPECT_EQ(d.action, ExitAction::host_nmi);
    nmi.interruption_info = 0x8000'0312; // hardware exception 18: #MC
    EXPECT_EQ(decode_exit(nmi).action, ExitAction::host_machine_check);
    nmi.interruption_info = 0x8000'030E; // #PF: never configured to exit
    EXPECT_EQ(decode_exit(nmi).exit.reason, ExitReason::unhandled);
    d = decode_exit(raw(exit_reason::kInterruptWindow));
    EXPECT_EQ(d.exit.reason, ExitReason::interrupt_window);
    EXPECT_EQ(d.action, ExitAction::interrupt_window);
    d = decode_exit(raw(exit_reason::kNmiWindow));
    EXPECT_EQ(d.exit.reason, ExitReason::retry);
    EXPECT_EQ(d.action, ExitAction::nmi_window);
    EXPECT_EQ(decode_exit(raw(exit_reason::kInitSignal)).exit.reason, ExitReason::host_interrupt);
}

TEST(VmxExitDecode, GuestVmxInstructionsRaiseInvalidOpcode) {
    for (uint32_t reason = exit_reason::kVmclear; reason <= exit_reason::kVmxon; ++reason) {
        const DecodedExit d = decode_exit(raw(reason));
        EXPECT_EQ(d.action, ExitAction::inject_invalid_opcode) << exit_reason::name(reason);
        EXPECT_EQ(d.exit.reason, ExitReason::retry);
    }
    for (uint32_t reason : {exit_reason::kInvept, exit_reason::kInvvpid, exit_reason::kVmfunc,
                            exit_reason::kMonitor, exit_reason::kMwait, exit_reason::kGetsec})
        EXPECT_EQ(decode_exit(raw(reason)).action, ExitAction::inject_invalid_opcode);
    EXPECT_EQ(decode_exit(raw(exit_reason::kVmcall)).exit.reason, ExitReason::hypercall)
        << "VMCALL is the hypercall instruction, not #UD";
}

TEST(VmxExitDecode, BackendHandledExits) {
    EXPECT_EQ(decode_exit(raw(exit_reason::kXsetbv)).action, ExitAction::emulate_xsetbv);
    EXPECT_EQ(decode_exit(raw(exit_reason::kControlRegisterAccess)).action,
              ExitAction::emulate_control_register);
    const DecodedExit invd = decode_exit(raw(exit_reason::kInvd));
    EXPECT_EQ(invd.action, ExitAction::skip_instruction);
    EXPECT_EQ(invd.exit.next_rip, 0x1002u);
}

TEST(VmxExitDecode, EntryFailuresAndUnexpectedExits) {
    DecodedExit d = decode_exit(raw(exit_reason::kEntryFailure | exit_reason::kInvalidGuestState));
    EXPECT_EQ(d.exit.reason, ExitReason::invalid_state);
    EXPECT_EQ(d.action, ExitAction::entry_failure);
    EXPECT_EQ(d.exit.raw_code, 0x8000'0021u);
    EXPECT_EQ(decode_exit(raw(exit_reason::kEptMisconfiguration)).exit.reason,
              ExitReason::unhandled);
    EXPECT_EQ(decode_exit(raw(exit_reason::kTaskSwitch)).exit.reason, ExitReason::unhandled);
    EXPECT_STREQ(exit_reason::name(exit_reason::kEptViolation), "ept-violation");
    EXPECT_STREQ(exit_reason::name(999), "unknown");
}
