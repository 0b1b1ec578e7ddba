// The software re-run of VM entry's guest-state and injection checks
// (vmm/vmx/guest_state_check.hpp): the states Halcyon's loaders produce pass, and each broken
// state is named.
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/cr_access.hpp"
#include "vmm/vmx/event_injection.hpp"
#include "vmm/vmx/guest_state_check.hpp"
#include "vmx_cpu_fixtures.hpp"

#include <gtest/gtest.h>
#include <string>

using namespace halcyon;
using namespace halcyon::vmx;

namespace {

VmxConfiguration config() {
    return compute_configuration(fixtures::kCoreI7_2635QM.msrs).release_value();
}

GuestStateSnapshot with_controls(const VmxConfiguration& c) {
    GuestStateSnapshot s;
    s.pin_based = c.pin_based;
    s.secondary = c.secondary;
    s.entry_controls = c.entry;
    s.rflags = 0x2;
    return s;
}

void set(GuestStateSnapshot& s, SegmentRegister which, const vmm::Segment& segment) {
    s.segments[static_cast<int>(which)] = to_vmx_segment(segment);
}

// The state the Linux loader and the flat-guest loader hand in (worker/linux/long_mode.cpp).
GuestStateSnapshot long_mode() {
    const VmxConfiguration c = config();
    GuestStateSnapshot s = with_controls(c);
    s.entry_controls |= entry_control::kIa32eModeGuest;
    const ControlRegisters regs = control_registers_for(0x8005'0033, cr4::kPae, 0xD00, c);
    s.cr0 = regs.cr0;
    s.cr4 = regs.cr4;
    s.cr3 = 0x2000;
    s.efer = 0xD00;
    s.pat = 0x0007'0406'0007'0406;
    s.dr7 = 0x400;
    s.rip = 0x10'0000;
    const vmm::Segment code{0x08, 0xA9B, 0xFFFF'FFFF, 0};
    const vmm::Segment data{0x10, 0xC93, 0xFFFF'FFFF, 0};
    set(s, SegmentRegister::cs, code);
    for (SegmentRegister r : {SegmentRegister::ds, SegmentRegister::es, SegmentRegister::ss,
                              SegmentRegister::fs, SegmentRegister::gs})
        set(s, r, data);
    set(s, SegmentRegister::tr, vmm::Segment{0, 0x8B, 0x67, 0});
    set(s, SegmentRegister::ldtr, vmm::Segment{0, 0x82, 0, 0});
    s.gdtr_limit = 0x17;
    return s;
}

// The state a startup IPI leaves (Partition::start_at_vector): real mode at vector 0x9A.
GuestStateSnapshot real_mode() {
    const VmxConfiguration c = config();
    GuestStateSnapshot s = with_controls(c);
    const ControlRegisters regs = control_registers_for(0x6000'0010, 0, 0, c);
    s.cr0 = regs.cr0;
    s.cr4 = regs.cr4;
    s.pat = 0x0007'0406'0007'0406;
    s.dr7 = 0x400;
    set(s, SegmentRegister::cs, vmm::Segment{0x9A00, 0x9B, 0xFFFF, 0x9A000});
    for (SegmentRegister r : {SegmentRegister::ds, SegmentRegister::es, SegmentRegister::ss,
                              SegmentRegister::fs, SegmentRegister::gs})
        set(s, r, vmm::Segment{0, 0x93, 0xFFFF, 0});
    set(s, SegmentRegister::tr, vmm::Segment{0, 0x8B, 0xFFFF, 0});
    set(s, SegmentRegister::ldtr, vmm::Segment{0, 0x82, 0xFFFF, 0});
    s.gdtr_limit = 0xFFFF;
    s.idtr_limit = 0xFFFF;
    return s;
}

std::string check(const GuestStateSnapshot& s) {
    const Violation v = find_guest_state_violation(s, config());
    return v ? v.check : "";
}

} // namespace

TEST(VmxGuestStateCheck, LoaderStatesPass) {
    EXPECT_EQ(check(long_mode()), "");
    EXPECT_EQ(check(real_mode()), "") << "real mode needs unrestricted guest, which SNB has";
}

TEST(VmxGuestStateCheck, ControlRegisterAndEferChecksAreNamed) {
    GuestStateSnapshot s = long_mode();
    s.cr0 &= ~cr0::kNe;
    const Violation v = find_guest_state_violation(s, config());
    ASSERT_TRUE(v);
    EXPECT_STREQ(v.check, "guest CR0 breaks IA32_VMX_CR0_FIXED0/FIXED1 (detail: bit)");
    EXPECT_EQ(v.detail, 5u);
    s = long_mode();
    s.efer &= ~efer::kLma;
    EXPECT_EQ(check(s), "guest EFER.LMA differs from the \"IA-32e mode guest\" entry control");
    s = long_mode();
    s.cr4 &= ~cr4::kPae;
    EXPECT_EQ(check(s), "\"IA-32e mode guest\" is set but guest CR4.PAE is clear");
    s = long_mode();
    s.pat = 0x0007'0406'0007'0402; // type 2 is reserved
    EXPECT_EQ(check(s), "guest IA32_PAT holds an invalid memory type");
    s = long_mode();
    s.efer |= 1ull << 12; // AMD's SVME: reserved on Intel
    EXPECT_EQ(check(s), "guest IA32_EFER has reserved bits set");
}

TEST(VmxGuestStateCheck, SegmentChecksAreNamed) {
    GuestStateSnapshot s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::cs)].access_rights |= access_rights::kDefaultBig;
    EXPECT_EQ(check(s), "guest CS has both L and D/B set in IA-32e mode");
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::tr)].access_rights = access_rights::kUnusable;
    EXPECT_EQ(check(s), "guest TR is unusable");
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::tr)].access_rights = 0x83; // 16-bit busy TSS
    EXPECT_EQ(check(s), "guest TR type is not a busy TSS (11, or 3 outside IA-32e mode)");
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::ds)].access_rights &= ~access_rights::kAccessed;
    EXPECT_EQ(check(s), "usable guest data segment (DS/ES/FS/GS) is not marked accessed");
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::ds)].access_rights = access_rights::kUnusable;
    EXPECT_EQ(check(s), "") << "a null DS is fine in 64-bit mode";
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::ss)].access_rights |= 3u << 5;
    EXPECT_EQ(check(s), "guest CS DPL differs from SS DPL (non-conforming code)");
    s = long_mode();
    s.segments[static_cast<int>(SegmentRegister::fs)].base = 0x8000'0000'0000ull;
    EXPECT_EQ(check(s), "guest DS/ES base bits 63:32 are not zero, or FS/GS base is not canonical");
    s = real_mode();
    s.secondary &= ~secondary::kUnrestrictedGuest;
    s.segments[static_cast<int>(SegmentRegister::cs)].access_rights = 0x93;
    EXPECT_EQ(check(s),
              "guest CS type is not an accessed code segment (or 3 with unrestricted guest)");
}

TEST(VmxGuestStateCheck, RipFlagsAndInterruptibility) {
    GuestStateSnapshot s = real_mode();
    s.rip = 0x1'0000'0000;
    EXPECT_EQ(check(s), "guest RIP bits 63:32 are not zero outside 64-bit code");
    s = long_mode();
    s.rip = 0x0000'8000'0000'0000;
    EXPECT_EQ(check(s), "guest RIP is not canonical");
    s = long_mode();
    s.rflags = 0;
    EXPECT_EQ(check(s), "guest RFLAGS reserved bits are not as required (bit 1 set, others clear)");
    s = long_mode();
    s.interruptibility = interruptibility::kBlockingBySti;
    EXPECT_EQ(check(s), "guest blocking by STI is set while RFLAGS.IF is clear");
    s.rflags = 0x202;
    s.entry_interruption_info = 0x8000'0030;
    EXPECT_EQ(check(s), "an external interrupt is injected during STI or MOV-SS blocking");
    s = long_mode();
    s.rflags = 0x302; // TF in an interrupt shadow needs BS
    s.interruptibility = interruptibility::kBlockingBySti;
    EXPECT_EQ(check(s), "pending-debug BS must be set: RFLAGS.TF with an interrupt shadow or HLT");
    s.pending_debug_exceptions = 1ull << 14;
    EXPECT_EQ(check(s), "");
    s = long_mode();
    s.vmcs_link_pointer = 0;
    EXPECT_EQ(check(s), "VMCS link pointer is not FFFFFFFF_FFFFFFFFh");
}

TEST(VmxGuestStateCheck, InjectionFieldChecks) {
    GuestStateSnapshot s = long_mode();
    s.entry_interruption_info = 0x8000'030D; // #GP without its error code
    Violation v = find_event_injection_violation(s);
    ASSERT_TRUE(v);
    EXPECT_STREQ(v.check,
                 "the injected event's \"deliver error code\" bit does not match the vector and "
                 "mode");
    s.entry_interruption_info = 0x8000'0B0D;
    EXPECT_FALSE(find_event_injection_violation(s));
    s = real_mode();
    s.entry_interruption_info = 0x8000'0B0D; // real mode: no error codes
    EXPECT_TRUE(find_event_injection_violation(s));
    s.entry_interruption_info = 0x8000'0203; // NMI with vector 3
    EXPECT_STREQ(find_event_injection_violation(s).check, "an injected NMI must have vector 2");
    s.entry_interruption_info = 0x8000'0480; // INT 0x80 without a length
    EXPECT_STREQ(find_event_injection_violation(s).check,
                 "an injected software event needs an instruction length of 1-15");
}
