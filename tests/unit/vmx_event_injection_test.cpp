// Event injection and the IDT-vectoring re-injection rules (vmm/vmx/event_injection.hpp).
#include "vmm/vmx/event_injection.hpp"

#include <gtest/gtest.h>

using namespace halcyon::vmx;

TEST(VmxEventInjection, ErrorCodesFollowTheArchitecture) {
    // #GP(0) in protected mode pushes its error code.
    EventInjection gp = exception_injection(13, true, 0, true);
    EXPECT_EQ(gp.info, 0x8000'0B0Du);
    // #UD never has one, whatever the caller says.
    EXPECT_EQ(exception_injection(6, true, 5, true).info, 0x8000'0306u);
    // In real mode (unrestricted guest, CR0.PE = 0) no exception pushes one.
    gp = exception_injection(13, true, 0, false);
    EXPECT_EQ(gp.info, 0x8000'030Du);
    EXPECT_EQ(gp.error_code, 0u);
    const EventInjection pf = exception_injection(14, true, 0x6, true);
    EXPECT_EQ(pf.info, 0x8000'0B0Eu);
    EXPECT_EQ(pf.error_code, 6u);
    EXPECT_EQ(interrupt_injection(0x30).info, 0x8000'0030u);
    EXPECT_EQ(nmi_injection().info, 0x8000'0202u);
}

TEST(VmxEventInjection, NothingToReinjectWithoutTheValidBit) {
    EXPECT_FALSE(reinjection(0x0000'0B0E, 4, 2).has_value());
}

TEST(VmxEventInjection, InterruptedHardwareEventsGoBackAsTheyWere) {
    // A #PF whose delivery hit an EPT violation (the IDT or stack not mapped yet).
    auto again = reinjection(0x8000'0B0E, 0x2, 3);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->info, 0x8000'0B0Eu);
    EXPECT_EQ(again->error_code, 2u);
    EXPECT_EQ(again->instruction_length, 0u) << "hardware events need no length";
    // An external interrupt and an NMI.
    EXPECT_EQ(reinjection(0x8000'0041, 0, 3)->info, 0x8000'0041u);
    EXPECT_EQ(reinjection(0x8000'0202, 0, 3)->info, 0x8000'0202u);
    // The undefined bit 12 of the IDT-vectoring field is not carried into the entry field.
    EXPECT_EQ(reinjection(0x8000'1202, 0, 0)->info, 0x8000'0202u);
    // No error code is passed on when the event had none.
    EXPECT_EQ(reinjection(0x8000'0306, 0x1234, 0)->error_code, 0u);
}

TEST(VmxEventInjection, SoftwareEventsKeepTheirInstructionLength) {
    // INT 0x80 (2 bytes), INT3 (1 byte), INT1/ICEBP (1 byte).
    EXPECT_EQ(reinjection(0x8000'0480, 0, 2)->instruction_length, 2u);
    EXPECT_EQ(reinjection(0x8000'0603, 0, 1)->instruction_length, 1u);
    EXPECT_EQ(reinjection(0x8000'0501, 0, 1)->instruction_length, 1u);
}

TEST(VmxEventInjection, BlockedEventsWait) {
    const uint64_t if_set = 0x202;
    const EventInjection irq = interrupt_injection(0x30);
    EXPECT_TRUE(can_inject_now(irq, 0, if_set, true));
    EXPECT_FALSE(can_inject_now(irq, 0, 0x2, true)) << "IF clear";
    EXPECT_FALSE(can_inject_now(irq, interruptibility::kBlockingBySti, if_set, true));
    EXPECT_FALSE(can_inject_now(irq, interruptibility::kBlockingByMovSs, if_set, true));
    const EventInjection nmi = nmi_injection();
    EXPECT_TRUE(can_inject_now(nmi, 0, 0x2, true)) << "IF does not mask NMIs";
    EXPECT_FALSE(can_inject_now(nmi, interruptibility::kBlockingByNmi, 0x2, true));
    EXPECT_TRUE(can_inject_now(nmi, interruptibility::kBlockingByNmi, 0x2, false))
        << "without virtual NMIs the CPU does not track NMI blocking for the guest";
    EXPECT_FALSE(can_inject_now(nmi, interruptibility::kBlockingByMovSs, 0x2, true));
    // Exceptions go in regardless (a #GP for an emulated instruction inside an STI shadow).
    EXPECT_TRUE(can_inject_now(exception_injection(13, true, 0, true),
                               interruptibility::kBlockingBySti, 0x202, true));
    EXPECT_TRUE(can_inject_now(EventInjection{}, 0xF, 0, true));
}
