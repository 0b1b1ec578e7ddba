// Virtual LAPIC: register semantics in xAPIC (MMIO) and x2APIC (MSR) mode, #GP cases and the
// IA32_APIC_BASE state machine.
#include "vlapic_test_support.hpp"

namespace halcyon::vmm::lapic {
namespace {

using namespace testing;
using Mode = VirtualLapic::Mode;

TEST(VlapicRegisters, PowerUpState) {
    VirtualLapic bsp(0, kTscHz);
    VirtualLapic ap(3, kTscHz);
    EXPECT_EQ(bsp.apic_base(), 0xFEE00900u); // enabled + BSP
    EXPECT_EQ(ap.apic_base(), 0xFEE00800u);
    EXPECT_EQ(ap.mode(), Mode::xapic);
    EXPECT_EQ(ap.mmio_read(offset::id, 0), 3u << 24);
    EXPECT_EQ(ap.mmio_read(offset::version, 0), 0x00050014u);
    EXPECT_EQ(ap.mmio_read(offset::tpr, 0), 0u);
    EXPECT_EQ(ap.mmio_read(offset::ppr, 0), 0u);
    EXPECT_EQ(ap.mmio_read(offset::ldr, 0), 0u);
    EXPECT_EQ(ap.mmio_read(offset::dfr, 0), 0xFFFFFFFFu);
    EXPECT_EQ(ap.mmio_read(offset::svr, 0), 0xFFu);
    EXPECT_FALSE(ap.software_enabled());
    for (uint32_t reg = offset::lvt_first; reg <= offset::lvt_last; reg += 16) {
        EXPECT_EQ(ap.mmio_read(reg, 0), 0x10000u) << std::hex << reg;
    }
    for (uint32_t reg : {offset::icr_low, offset::icr_high, offset::timer_initial,
                         offset::timer_current, offset::timer_divide, offset::esr}) {
        EXPECT_EQ(ap.mmio_read(reg, 0), 0u) << std::hex << reg;
    }
}

TEST(VlapicRegisters, XapicWritableBits) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    software_enable(lapic);
    lapic.mmio_write(offset::id, 0x07000000, 0, bus); // read-only ID
    EXPECT_EQ(lapic.mmio_read(offset::id, 0), 1u << 24);
    lapic.mmio_write(offset::tpr, 0xFFFFFF35, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::tpr, 0), 0x35u);
    EXPECT_EQ(lapic.task_priority(), 0x35);
    lapic.mmio_write(offset::ldr, 0xFFFFFFFF, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::ldr, 0), 0xFF000000u);
    lapic.mmio_write(offset::dfr, 0x00000000, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::dfr, 0), 0x0FFFFFFFu); // bits 27:0 read as ones
    lapic.mmio_write(offset::svr, 0xFFFFFFFF, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::svr, 0), 0x3FFu); // no EOI-broadcast suppression
    lapic.mmio_write(offset::icr_high, 0xFFFFFFFF, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::icr_high, 0), 0xFF000000u);
    lapic.mmio_write(offset::timer_divide, 0xFFFFFFFF, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::timer_divide, 0), 0xBu);
    EXPECT_EQ(latch_esr(lapic), 0u); // none of these is an illegal register
}

TEST(VlapicRegisters, LvtWritableBits) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    software_enable(lapic);
    const uint32_t expected[] = {0x000700FF, 0x000107FF, 0x000107FF,
                                 0x0001A7FF, 0x0001A7FF, 0x000100FF};
    for (unsigned index = 0; index < 6; ++index) {
        const uint32_t reg = offset::lvt_first + 16 * index;
        lapic.mmio_write(reg, 0xFFFFFFFF, 0, bus);
        EXPECT_EQ(lapic.mmio_read(reg, 0), expected[index]) << index;
        lapic.mmio_write(reg, 0x42, 0, bus); // unmasked, vector 0x42
        EXPECT_EQ(lapic.mmio_read(reg, 0), 0x42u) << index;
    }
}

TEST(VlapicRegisters, SoftwareDisableMasksEveryLvt) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    software_enable(lapic);
    lapic.mmio_write(offset::lvt_first, 0x30, 0, bus);
    lapic.mmio_write(offset::lvt_last, 0x31, 0, bus);
    lapic.mmio_write(offset::svr, 0xFF, 0, bus); // software disable
    EXPECT_EQ(lapic.mmio_read(offset::lvt_first, 0), 0x10030u);
    EXPECT_EQ(lapic.mmio_read(offset::lvt_last, 0), 0x10031u);
    lapic.mmio_write(offset::lvt_first, 0x40, 0, bus); // unmask attempt is ignored
    EXPECT_EQ(lapic.mmio_read(offset::lvt_first, 0), 0x10040u);
    software_enable(lapic); // re-enabling keeps the masks; software unmasks
    EXPECT_EQ(lapic.mmio_read(offset::lvt_first, 0), 0x10040u);
    lapic.mmio_write(offset::lvt_first, 0x40, 0, bus);
    EXPECT_EQ(lapic.mmio_read(offset::lvt_first, 0), 0x40u);
}

TEST(VlapicRegisters, ReservedOffsetsAndErrorStatusSemantics) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    EXPECT_EQ(lapic.mmio_read(0x010, 0), 0u); // reserved: error logged, not yet visible
    EXPECT_EQ(lapic.mmio_read(offset::esr, 0), 0u);
    EXPECT_EQ(latch_esr(lapic), esr::illegal_register);
    EXPECT_EQ(latch_esr(lapic), 0u); // the next write clears it
    for (uint32_t reg : {0x000u, 0x040u, 0x070u, 0x290u, 0x2F0u, 0x3A0u, 0x3F0u}) {
        lapic.mmio_write(reg, 1, 0, bus);
        EXPECT_EQ(latch_esr(lapic), esr::illegal_register) << std::hex << reg;
    }
    // Writes to read-only registers, unaligned offsets and offsets past 0x3F0 are silent.
    for (uint32_t reg : {offset::version, offset::ppr, offset::isr + 0x10, offset::irr,
                         offset::timer_current, 0x024u, 0x400u, 0xFF0u}) {
        const uint32_t before = lapic.mmio_read(reg, 0);
        lapic.mmio_write(reg, 0xFFFFFFFF, 0, bus);
        EXPECT_EQ(lapic.mmio_read(reg, 0), before) << std::hex << reg;
        EXPECT_EQ(latch_esr(lapic), 0u) << std::hex << reg;
    }
    EXPECT_EQ(lapic.mmio_read(offset::version, 0), 0x00050014u);
    EXPECT_EQ(lapic.mmio_read(offset::version + 4, 0), 0u); // bytes 4..15 of a register
    EXPECT_TRUE(bus.ipis.empty());
}

TEST(VlapicRegisters, MmioIsOffOutsideXapicMode) {
    VirtualLapic lapic(2, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    EXPECT_EQ(lapic.mmio_read(offset::version, 0), 0u);
    lapic.mmio_write(offset::tpr, 0x20, 0, bus);
    EXPECT_EQ(lapic.task_priority(), 0);
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00000, 0, bus)); // globally disabled
    EXPECT_EQ(lapic.mmio_read(offset::version, 0), 0u);
}

TEST(VlapicRegisters, X2apicMsrsRaiseGpOutsideX2apicMode) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    uint64_t value = 0;
    EXPECT_FALSE(lapic.read_msr(x2apic_msr(offset::id), 0, value));
    EXPECT_FALSE(lapic.write_msr(x2apic_msr(offset::tpr), 0, 0, bus));
    EXPECT_FALSE(lapic.write_msr(x2apic_msr(offset::eoi), 0, 0, bus));
    EXPECT_TRUE(VirtualLapic::claims_msr(0x1B));
    EXPECT_TRUE(VirtualLapic::claims_msr(0x6E0));
    EXPECT_TRUE(VirtualLapic::claims_msr(0x800));
    EXPECT_TRUE(VirtualLapic::claims_msr(0x8FF));
    EXPECT_FALSE(VirtualLapic::claims_msr(0x7FF));
    EXPECT_FALSE(VirtualLapic::claims_msr(0x900));
    EXPECT_FALSE(VirtualLapic::claims_msr(0x1A));
}

TEST(VlapicRegisters, X2apicReadOnlyIdentity) {
    VirtualLapic lapic(0x25, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(0x802, 0, value));
    EXPECT_EQ(value, 0x25u); // 32-bit x2APIC ID, not shifted
    ASSERT_TRUE(lapic.read_msr(0x803, 0, value));
    EXPECT_EQ(value, 0x00050014u);
    ASSERT_TRUE(lapic.read_msr(0x80D, 0, value));
    EXPECT_EQ(value, (2u << 16) | (1u << 5)); // cluster 2, member bit 5
    for (uint32_t msr : {0x802u, 0x803u, 0x80Au, 0x80Du, 0x810u, 0x818u, 0x820u, 0x839u}) {
        EXPECT_FALSE(lapic.write_msr(msr, 0, 0, bus)) << std::hex << msr;
    }
}

TEST(VlapicRegisters, X2apicUnimplementedAndWriteOnlyMsrs) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    uint64_t value = 0;
    // APR, RRD, DFR, ICR high, CMCI, beyond SELF_IPI: not there in x2APIC mode.
    for (uint32_t msr : {0x800u, 0x809u, 0x80Cu, 0x80Eu, 0x82Fu, 0x831u, 0x840u, 0x8FFu}) {
        EXPECT_FALSE(lapic.read_msr(msr, 0, value)) << std::hex << msr;
        EXPECT_FALSE(lapic.write_msr(msr, 0, 0, bus)) << std::hex << msr;
    }
    EXPECT_FALSE(lapic.read_msr(0x80B, 0, value)); // EOI is write-only
    EXPECT_FALSE(lapic.read_msr(0x83F, 0, value)); // SELF_IPI is write-only
    EXPECT_TRUE(lapic.write_msr(0x80B, 0, 0, bus));
    EXPECT_FALSE(lapic.write_msr(0x80B, 1, 0, bus)); // non-zero EOI
}

TEST(VlapicRegisters, X2apicReservedBitsRaiseGp) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    EXPECT_FALSE(lapic.write_msr(0x808, 0x100, 0, bus));                // TPR 31:8
    EXPECT_FALSE(lapic.write_msr(0x80F, 0x11FF, 0, bus));               // SVR bit 12
    EXPECT_FALSE(lapic.write_msr(0x80F, 0x1FF | (1ull << 32), 0, bus)); // upper half
    EXPECT_FALSE(lapic.write_msr(0x828, 1, 0, bus));                    // ESR non-zero
    EXPECT_FALSE(lapic.write_msr(0x832, 1u << 19, 0, bus));             // LVT timer bit 19
    EXPECT_FALSE(lapic.write_msr(0x837, 1u << 8, 0, bus));              // LVT error delivery mode
    EXPECT_FALSE(lapic.write_msr(0x83E, 0x4, 0, bus));                  // divide bit 2
    EXPECT_FALSE(lapic.write_msr(0x83F, 0x100, 0, bus));                // SELF_IPI 31:8
    EXPECT_FALSE(lapic.write_msr(0x830, 1u << 12, 0, bus));             // ICR delivery status
    EXPECT_FALSE(lapic.write_msr(0x830, 1u << 20, 0, bus));             // ICR 31:20
    EXPECT_TRUE(bus.ipis.empty());
    // Legal values go through; read-only LVT bits (delivery status) are ignored, not faults.
    uint64_t value = 0;
    EXPECT_TRUE(lapic.write_msr(0x808, 0x45, 0, bus));
    EXPECT_TRUE(lapic.write_msr(0x80F, 0x1FF, 0, bus));
    EXPECT_TRUE(lapic.write_msr(0x835, 0x1A7FF | lvt::delivery_status | lvt::remote_irr, 0, bus));
    ASSERT_TRUE(lapic.read_msr(0x835, 0, value));
    EXPECT_EQ(value, 0x1A7FFu);
    ASSERT_TRUE(lapic.read_msr(0x808, 0, value));
    EXPECT_EQ(value, 0x45u);
    ASSERT_TRUE(lapic.read_msr(0x80A, 0, value));
    EXPECT_EQ(value, 0x45u); // PPR = TPR with nothing in service
}

TEST(VlapicRegisters, X2apicEsrOnlyAcceptsZero) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    ASSERT_TRUE(lapic.write_msr(0x80F, 0x1FF, 0, bus));
    EXPECT_TRUE(lapic.write_msr(0x83F, 0x05, 0, bus)); // illegal self-IPI vector
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(0x828, 0, value));
    EXPECT_EQ(value, 0u);
    ASSERT_TRUE(lapic.write_msr(0x828, 0, 0, bus));
    ASSERT_TRUE(lapic.read_msr(0x828, 0, value));
    EXPECT_EQ(value, esr::send_illegal_vector);
}

TEST(VlapicRegisters, ApicBaseRefusesMovesAndReservedBits) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFED00900, 0, bus));     // moved
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0x1FEE00900ull, 0, bus)); // moved high
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFEE00901, 0, bus));     // bit 0
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFEE00B00, 0, bus));     // bit 9
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFEE00500, 0, bus));     // EN=0 EXTD=1
    EXPECT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00900, 0, bus));      // unchanged
    EXPECT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00800, 0, bus));      // BSP ignored
    EXPECT_EQ(lapic.apic_base(), 0xFEE00900u);
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(msr::apic_base, 0, value));
    EXPECT_EQ(value, 0xFEE00900u);
}

TEST(VlapicRegisters, ApicBaseModeTransitions) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    software_enable(lapic);
    lapic.mmio_write(offset::tpr, 0x20, 0, bus);
    lapic.accept(0x50, false);
    // xAPIC -> x2APIC keeps the state.
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00C00, 0, bus));
    EXPECT_EQ(lapic.mode(), Mode::x2apic);
    EXPECT_EQ(lapic.apic_base(), 0xFEE00C00u);
    EXPECT_EQ(lapic.task_priority(), 0x20);
    EXPECT_EQ(lapic.pending_vector(), 0x50);
    // x2APIC -> xAPIC directly is illegal.
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFEE00800, 0, bus));
    EXPECT_EQ(lapic.mode(), Mode::x2apic);
    // x2APIC -> disabled resets everything.
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00000, 0, bus));
    EXPECT_EQ(lapic.mode(), Mode::disabled);
    EXPECT_EQ(lapic.apic_base(), 0xFEE00000u);
    EXPECT_EQ(lapic.pending_vector(), -1);
    EXPECT_EQ(lapic.task_priority(), 0);
    lapic.accept(0x60, false); // a disabled APIC accepts nothing
    EXPECT_FALSE(lapic.irr().test(0x60));
    // disabled -> x2APIC is illegal, disabled -> xAPIC comes back in the power-up state.
    EXPECT_FALSE(lapic.write_msr(msr::apic_base, 0xFEE00C00, 0, bus));
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00800, 0, bus));
    EXPECT_EQ(lapic.mode(), Mode::xapic);
    EXPECT_EQ(lapic.mmio_read(offset::svr, 0), 0xFFu);
    EXPECT_EQ(lapic.mmio_read(offset::lvt_first, 0), 0x10000u);
    EXPECT_EQ(lapic.irr().highest(), -1);
    // xAPIC -> disabled also resets.
    software_enable(lapic);
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00000, 0, bus));
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, 0xFEE00800, 0, bus));
    EXPECT_FALSE(lapic.software_enabled());
}

} // namespace
} // namespace halcyon::vmm::lapic
