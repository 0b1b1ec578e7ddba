// The guest MSR allow list (vmm/partition/msr_policy.hpp) against a fake CPU backend.
#include "vmm/partition/msr_policy.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmm;

namespace {

class FakeCpu final : public CpuBackend {
public:
    ErrorOr<VcpuExit> run() override { return Error(ErrorCode::not_supported, "fake"); }
    GeneralRegisters& registers() override { return general; }
    SystemRegisters system_registers() const override { return system; }
    void set_system_registers(const SystemRegisters& value) override { system = value; }
    void inject_exception(uint8_t, bool, uint32_t) override {}
    void inject_interrupt(uint8_t) override {}
    void inject_nmi() override {}
    bool event_pending() const override { return false; }
    bool interrupts_enabled() const override { return false; }
    void request_interrupt_window(bool) override {}
    void set_debug_status(uint64_t) override {}
    uint64_t guest_tsc() const override { return tsc; }
    void set_guest_tsc(uint64_t value) override { tsc = value; }
    void request_tlb_flush() override {}
    void reset() override {}
    uint64_t guest_xcr0() const override { return 1; }

    GeneralRegisters general{};
    SystemRegisters system{};
    uint64_t tsc = 1000;
};

constexpr uint32_t kEfer = 0xC000'0080;
constexpr uint64_t kLongModeEfer = 0x500;    // LME | LMA
constexpr uint64_t kPagingCr0 = 0x8000'0011; // PG | ET | PE

} // namespace

TEST(MsrPolicy, UnknownMsrsRaiseGeneralProtection) {
    FakeCpu cpu;
    uint64_t value = 0;
    EXPECT_EQ(read_msr(cpu, 0, 0x1234'5678, value), MsrOutcome::general_protection);
    EXPECT_EQ(write_msr(cpu, 0, 0xC001'0117, 0), MsrOutcome::general_protection);
    EXPECT_EQ(read_msr(cpu, 0, 0xC001'0114, value), MsrOutcome::general_protection);
}

TEST(MsrPolicy, EferRules) {
    FakeCpu cpu;
    cpu.system.efer = kLongModeEfer;
    cpu.system.cr0 = kPagingCr0;
    EXPECT_EQ(write_msr(cpu, 0, kEfer, kLongModeEfer | (1u << 11)), MsrOutcome::done);
    EXPECT_EQ(cpu.system.efer, kLongModeEfer | (1u << 11));
    EXPECT_EQ(write_msr(cpu, 0, kEfer, kLongModeEfer | (1u << 12)), MsrOutcome::general_protection)
        << "SVME";
    EXPECT_EQ(write_msr(cpu, 0, kEfer, 0x400), MsrOutcome::general_protection)
        << "clearing LME with paging on";
    EXPECT_EQ(write_msr(cpu, 0, kEfer, kLongModeEfer | (1u << 20)), MsrOutcome::general_protection)
        << "reserved bit";
    uint64_t value = 0;
    EXPECT_EQ(read_msr(cpu, 0, kEfer, value), MsrOutcome::done);
    EXPECT_EQ(value, kLongModeEfer | (1u << 11));
}

TEST(MsrPolicy, PatValidation) {
    FakeCpu cpu;
    EXPECT_EQ(write_msr(cpu, 0, 0x277, 0x0007'0406'0007'0406ull), MsrOutcome::done);
    EXPECT_EQ(cpu.system.pat, 0x0007'0406'0007'0406ull);
    EXPECT_EQ(write_msr(cpu, 0, 0x277, 0x0000'0000'0000'0002ull), MsrOutcome::general_protection);
    EXPECT_EQ(write_msr(cpu, 0, 0x277, 0x0000'0000'0000'0008ull), MsrOutcome::general_protection);
}

TEST(MsrPolicy, Tsc) {
    FakeCpu cpu;
    uint64_t value = 0;
    EXPECT_EQ(write_msr(cpu, 0, 0x10, 12345), MsrOutcome::done);
    EXPECT_EQ(read_msr(cpu, 0, 0x10, value), MsrOutcome::done);
    EXPECT_EQ(value, 12345u);
    // APIC_BASE and the x2APIC range belong to the virtual local APIC (vmm/lapic), which the
    // partition asks first; the policy itself refuses them.
    EXPECT_EQ(read_msr(cpu, 0, 0x1B, value), MsrOutcome::general_protection);
}
