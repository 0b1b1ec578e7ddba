// Control-register exit decoding and MOV to CR0/CR4 emulation (vmm/vmx/cr_access.hpp).
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/cr_access.hpp"
#include "vmx_cpu_fixtures.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmx;

namespace {

VmxConfiguration broadwell() {
    return compute_configuration(fixtures::kCoreI7_5600U.msrs).release_value();
}

constexpr uint64_t kRealModeCr0 = 0x6000'0010; // CD, NW, ET: the state after INIT
// Linux's trampoline_64.S: PE | MP | ET | NE | WP | AM | PG.
constexpr uint64_t kLongModeCr0 = 0x8005'0033;

} // namespace

TEST(VmxCrAccess, QualificationIsDecoded) {
    // MOV CR0, RAX.
    CrAccess access = decode_cr_access(0x0000'0000);
    EXPECT_EQ(access.control_register, 0);
    EXPECT_EQ(access.kind, CrAccessKind::mov_to_cr);
    EXPECT_EQ(access.general_register, 0);
    // MOV CR4, R13.
    access = decode_cr_access(0x0D04);
    EXPECT_EQ(access.control_register, 4);
    EXPECT_EQ(access.general_register, 13);
    // LMSW with source data 0x0011.
    access = decode_cr_access(0x0011'0030);
    EXPECT_EQ(access.kind, CrAccessKind::lmsw);
    EXPECT_EQ(access.lmsw_source, 0x11);
    vmm::GeneralRegisters regs{};
    regs.rsp = 0x55;
    regs.rdi = 0x77;
    regs.r15 = 0x99;
    EXPECT_EQ(register_by_number(regs, 4), 0x55u);
    EXPECT_EQ(register_by_number(regs, 7), 0x77u);
    EXPECT_EQ(register_by_number(regs, 15), 0x99u);
}

TEST(VmxCrAccess, RealModeStateKeepsNeForcedButShadowed) {
    const VmxConfiguration config = broadwell();
    const ControlRegisters regs = control_registers_for(kRealModeCr0, 0, 0, config);
    EXPECT_EQ(regs.cr0, kRealModeCr0 | cr0::kNe) << "VMX needs NE, the guest does not see it";
    EXPECT_EQ(regs.visible_cr0(config), kRealModeCr0);
    EXPECT_EQ(regs.cr4, cr4::kVmxe);
    EXPECT_EQ(regs.visible_cr4(config), 0u);
}

TEST(VmxCrAccess, EnteringLongModeSetsLma) {
    const VmxConfiguration config = broadwell();
    // The trampoline's state just before: protected mode, PAE on, EFER.LME set.
    ControlRegisters regs = control_registers_for(0x11, cr4::kPae, efer::kLme, config);
    const CrWriteOutcome outcome = emulate_cr0_write(regs, kLongModeCr0, config);
    ASSERT_FALSE(outcome.general_protection);
    EXPECT_EQ(outcome.registers.cr0, kLongModeCr0);
    EXPECT_EQ(outcome.registers.visible_cr0(config), kLongModeCr0);
    EXPECT_EQ(outcome.registers.efer, efer::kLme | efer::kLma);
    EXPECT_TRUE(outcome.flush_tlb);
}

TEST(VmxCrAccess, ClearingNeIsEmulatedWithoutSideEffects) {
    const VmxConfiguration config = broadwell();
    ControlRegisters regs = control_registers_for(0x33, 0, 0, config);
    const CrWriteOutcome outcome = emulate_cr0_write(regs, 0x13, config);
    ASSERT_FALSE(outcome.general_protection);
    EXPECT_EQ(outcome.registers.cr0, 0x33u) << "NE stays set in the real register";
    EXPECT_EQ(outcome.registers.visible_cr0(config), 0x13u);
    EXPECT_FALSE(outcome.flush_tlb);
}

TEST(VmxCrAccess, ArchitecturalFaults) {
    const VmxConfiguration config = broadwell();
    const ControlRegisters real = control_registers_for(0x10, 0, 0, config);
    EXPECT_TRUE(emulate_cr0_write(real, cr0::kPg | cr0::kNe, config).general_protection)
        << "PG without PE";
    EXPECT_TRUE(emulate_cr0_write(real, cr0::kNw | cr0::kNe, config).general_protection)
        << "NW without CD";
    EXPECT_TRUE(emulate_cr0_write(real, 1ull << 32, config).general_protection);
    const ControlRegisters no_pae = control_registers_for(0x11, 0, efer::kLme, config);
    EXPECT_TRUE(emulate_cr0_write(no_pae, kLongModeCr0, config).general_protection)
        << "long mode needs PAE";
    ControlRegisters long_mode =
        control_registers_for(kLongModeCr0, cr4::kPae, efer::kLme | efer::kLma, config);
    long_mode.code_64bit = true;
    EXPECT_TRUE(emulate_cr0_write(long_mode, 0x11, config).general_protection)
        << "paging cannot be turned off from 64-bit code";
    long_mode.code_64bit = false;
    const CrWriteOutcome left = emulate_cr0_write(long_mode, 0x31, config);
    ASSERT_FALSE(left.general_protection);
    EXPECT_EQ(left.registers.efer, efer::kLme) << "leaving paging clears LMA";
}

TEST(VmxCrAccess, WithoutUnrestrictedGuestPeAndPgStay) {
    VmxMsrValues msrs = fixtures::kCoreI7_5600U.msrs;
    msrs.processor2 &= ~(1ull << (32 + 7));
    const VmxConfiguration config = compute_configuration(msrs).release_value();
    const ControlRegisters regs =
        control_registers_for(kLongModeCr0, cr4::kPae, efer::kLme | efer::kLma, config);
    EXPECT_TRUE(emulate_cr0_write(regs, 0x33, config).general_protection);
}

TEST(VmxCrAccess, Cr4WritesThatSetVmxeFault) {
    const VmxConfiguration config = broadwell();
    const ControlRegisters regs = control_registers_for(0x11, cr4::kPae, 0, config);
    EXPECT_TRUE(emulate_cr4_write(regs, cr4::kPae | cr4::kVmxe, config).general_protection);
    const CrWriteOutcome ok = emulate_cr4_write(regs, cr4::kPae | (1u << 7), config);
    ASSERT_FALSE(ok.general_protection);
    EXPECT_EQ(ok.registers.cr4, cr4::kPae | (1u << 7) | cr4::kVmxe);
    EXPECT_EQ(ok.registers.visible_cr4(config), cr4::kPae | (1u << 7));
    EXPECT_TRUE(ok.flush_tlb);
    // Broadwell's CR4_FIXED1 (0x3767ff) has no bit 24: the CPU would refuse it.
    EXPECT_TRUE(emulate_cr4_write(regs, 1ull << 24, config).general_protection);
    const ControlRegisters long_mode =
        control_registers_for(kLongModeCr0, cr4::kPae, efer::kLme | efer::kLma, config);
    EXPECT_TRUE(emulate_cr4_write(long_mode, 0, config).general_protection)
        << "long mode cannot drop PAE";
}
