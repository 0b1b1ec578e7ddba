// Naming a failed VM entry (vmm/vmx/entry_diagnostics.hpp).
#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/entry_diagnostics.hpp"
#include "vmx_cpu_fixtures.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmx;

namespace {

VmxConfiguration config() {
    return compute_configuration(fixtures::kCoreI7_5600U.msrs).release_value();
}

ControlSnapshot good_controls(const VmxConfiguration& c) {
    ControlSnapshot s;
    s.pin_based = c.pin_based;
    s.primary = c.primary;
    s.secondary = c.secondary;
    s.exit = c.exit;
    s.entry = c.entry;
    s.msr_bitmap = 0x10'0000;
    s.virtual_apic = 0x10'1000;
    s.ept_pointer = ept_pointer(0x20'0000, c);
    s.vpid = 1;
    return s;
}

HostSnapshot good_host(const VmxConfiguration& c) {
    HostSnapshot h;
    h.cr0 = 0x8005'0033;
    h.cr4 = 0x2020 | 0x40000; // PAE, VMXE, OSXSAVE
    h.cr3 = 0x1000;
    h.efer = 0xD01;
    h.pat = 0x0007'0406'0007'0406;
    h.cs = 0x08;
    h.ss = h.ds = h.es = 0x10;
    h.tr = 0x18;
    h.gs_base = 0xFFFF'FFFF'8000'0000;
    h.rip = 0xFFFF'FFFF'8010'0000;
    h.exit_controls = c.exit;
    return h;
}

} // namespace

TEST(VmxEntryDiagnostics, InstructionErrorsHaveNames) {
    EXPECT_STREQ(instruction_error_name(7), "VM entry with invalid control field(s)");
    EXPECT_STREQ(instruction_error_name(8), "VM entry with invalid host-state field(s)");
    EXPECT_STREQ(instruction_error_name(5), "VMRESUME with non-launched VMCS");
    EXPECT_STREQ(instruction_error_name(26), "VM entry with events blocked by MOV SS");
    EXPECT_STREQ(instruction_error_name(28), "invalid operand to INVEPT/INVVPID");
    EXPECT_STREQ(instruction_error_name(14), "unknown VM-instruction error");
    EXPECT_STREQ(instruction_error_name(0), "unknown VM-instruction error");
    EXPECT_STREQ(instruction_error_name(1000), "unknown VM-instruction error");
}

TEST(VmxEntryDiagnostics, EntryFailureExitsHaveNames) {
    EXPECT_STREQ(entry_failure_name(0x8000'0021, 0), "VM entry failed: invalid guest state");
    EXPECT_STREQ(entry_failure_name(0x8000'0021, 4),
                 "VM entry failed: invalid guest state (invalid VMCS link pointer)");
    EXPECT_STREQ(entry_failure_name(0x8000'0022, 1),
                 "VM entry failed: loading an MSR of the VM-entry MSR-load area");
    EXPECT_STREQ(entry_failure_name(0x8000'0029, 0),
                 "VM entry failed: machine-check event during VM entry");
}

TEST(VmxEntryDiagnostics, ControlFieldChecks) {
    const VmxConfiguration c = config();
    EXPECT_FALSE(find_control_violation(good_controls(c), c));
    ControlSnapshot s = good_controls(c);
    s.primary &= ~0x4006172u; // default1 bits cleared
    EXPECT_STREQ(find_control_violation(s, c).check,
                 "primary processor-based controls break the allowed settings");
    s = good_controls(c);
    s.pin_based &= ~pin::kVirtualNmis;
    s.primary |= primary::kNmiWindowExiting;
    EXPECT_STREQ(find_control_violation(s, c).check, "NMI-window exiting without virtual NMIs");
    s = good_controls(c);
    s.ept_pointer = (s.ept_pointer & ~0x38ull) | (2u << 3);
    EXPECT_STREQ(find_control_violation(s, c).check,
                 "EPT pointer page-walk length is not 4 levels");
    s = good_controls(c);
    s.vpid = 0;
    EXPECT_STREQ(find_control_violation(s, c).check,
                 "VPID is enabled but the VPID field is 0 (the host's)");
    s = good_controls(c);
    s.msr_bitmap |= 8;
    EXPECT_STREQ(find_control_violation(s, c).check, "MSR-bitmap address is not 4 KiB aligned");
    s = good_controls(c);
    s.tpr_threshold = 0x10;
    EXPECT_STREQ(find_control_violation(s, c).check, "TPR threshold bits 31:4 are not zero");
    // Sandy Bridge has no EPT accessed/dirty flags.
    const VmxConfiguration sandy =
        compute_configuration(fixtures::kCoreI7_2635QM.msrs).release_value();
    s = good_controls(sandy);
    s.ept_pointer |= 1u << 6;
    EXPECT_STREQ(find_control_violation(s, sandy).check,
                 "EPT pointer enables accessed/dirty flags the CPU does not have");
}

TEST(VmxEntryDiagnostics, HostStateChecks) {
    const VmxConfiguration c = config();
    EXPECT_FALSE(find_host_state_violation(good_host(c), c));
    HostSnapshot h = good_host(c);
    h.cr4 &= ~0x2000ull;
    const Violation v = find_host_state_violation(h, c);
    EXPECT_STREQ(v.check, "host CR4 breaks IA32_VMX_CR4_FIXED0/FIXED1 (detail: bit)");
    EXPECT_EQ(v.detail, 13u);
    h = good_host(c);
    h.ss = 0x13;
    EXPECT_STREQ(find_host_state_violation(h, c).check, "a host selector has RPL or TI set");
    h = good_host(c);
    h.tr = 0;
    EXPECT_STREQ(find_host_state_violation(h, c).check, "host CS or TR selector is 0");
    h = good_host(c);
    h.gs_base = 0x0000'8000'0000'0000;
    EXPECT_STREQ(find_host_state_violation(h, c).check,
                 "a host base address (FS, GS, TR, GDTR, IDTR, SYSENTER) is not canonical");
    h = good_host(c);
    h.efer = 0x101;
    EXPECT_STREQ(find_host_state_violation(h, c).check,
                 "host EFER.LMA/LME are not both set for a 64-bit host");
}
