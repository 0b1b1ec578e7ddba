// AutoEOI (TLFS "SINTx Registers"): the virtual LAPIC side of the SynIC's AutoEOI SINTs
// (VirtualLapic::set_auto_eoi_vectors). An interrupt on such a vector ends as it is delivered:
// no ISR bit, so lower-priority interrupts are not held back and the guest sends no EOI.
#include "vlapic_test_support.hpp"
#include "vmm/hyperv/synic.hpp"

#include <gtest/gtest.h>

namespace halcyon::vmm::lapic {
namespace {

using testing::kTscHz;
using testing::RecordingBus;
using testing::software_enable;

VectorSet set_of(std::initializer_list<uint8_t> vectors) {
    VectorSet set;
    for (uint8_t v : vectors)
        set.set(v);
    return set;
}

TEST(AutoEoiLapic, AcknowledgedAutoEoiVectorNeverEntersTheIsr) {
    VirtualLapic lapic(0, kTscHz);
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(set_of({0x93}));
    lapic.accept(0x93, false);
    ASSERT_EQ(lapic.pending_vector(), 0x93);
    lapic.acknowledge(0x93);
    EXPECT_FALSE(lapic.irr().test(0x93));
    EXPECT_FALSE(lapic.isr().test(0x93)) << "ended by itself";
    EXPECT_EQ(lapic.processor_priority(), 0u) << "nothing in service";
    // A lower vector is not held back behind it.
    lapic.accept(0x41, false);
    EXPECT_EQ(lapic.pending_vector(), 0x41);
}

TEST(AutoEoiLapic, OtherVectorsStillNeedTheirEoi) {
    VirtualLapic lapic(0, kTscHz);
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(set_of({0xA3}));
    lapic.accept(0x92, false);
    lapic.acknowledge(0x92);
    EXPECT_TRUE(lapic.isr().test(0x92));
    lapic.accept(0x41, false);
    EXPECT_EQ(lapic.pending_vector(), -1) << "0x41 waits behind the in-service 0x92";
    // An AutoEOI vector of a higher class still gets in, and leaves no trace in the ISR.
    lapic.accept(0xA3, false);
    EXPECT_EQ(lapic.pending_vector(), 0xA3);
    lapic.acknowledge(0xA3);
    EXPECT_TRUE(lapic.isr().test(0x92));
    EXPECT_FALSE(lapic.isr().test(0xA3));
    EXPECT_EQ(lapic.pending_vector(), -1) << "still only 0x92 in service";
}

TEST(AutoEoiLapic, LevelTriggeredInterruptsKeepTheirEoi) {
    // An IOAPIC level interrupt that happens to use the vector must still reach the IOAPIC's
    // remote IRR through an EOI.
    VirtualLapic lapic(0, kTscHz);
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(set_of({0x93}));
    lapic.accept(0x93, true);
    lapic.acknowledge(0x93);
    EXPECT_TRUE(lapic.isr().test(0x93));
    RecordingBus bus;
    lapic.mmio_write(offset::eoi, 0, 0, bus);
    EXPECT_EQ(bus.eois, std::vector<uint8_t>{0x93});
}

TEST(AutoEoiLapic, InitKeepsTheConfigurationAndClearingItRestoresEoi) {
    VirtualLapic lapic(0, kTscHz);
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(set_of({0x93}));
    lapic.accept_init();
    EXPECT_TRUE(lapic.auto_eoi_vectors().test(0x93)) << "not an APIC register";
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(VectorSet{});
    lapic.accept(0x93, false);
    lapic.acknowledge(0x93);
    EXPECT_TRUE(lapic.isr().test(0x93));
}

TEST(AutoEoiLapic, FromTheSynicsSints) {
    // What the partition does after a SINT write: the SynIC's AutoEOI vectors become the APIC's.
    hyperv::Synic synic;
    hyperv::InterruptVectors raise;
    struct NoMemory final : hyperv::GuestMemory {
        bool fill_page(uint64_t, std::span<const uint8_t>) override { return false; }
        bool read(uint64_t, std::span<uint8_t>) override { return false; }
        bool write(uint64_t, std::span<const uint8_t>) override { return false; }
        bool load_u64(uint64_t, uint64_t&) override { return false; }
        bool compare_exchange_u64(uint64_t, uint64_t&, uint64_t, bool&) override { return false; }
        bool fetch_or_u64(uint64_t, uint64_t, uint64_t&) override { return false; }
    } memory;
    ASSERT_TRUE(synic.write_msr(0x4000'0092, 0x93 | (1u << 17), 0, memory, raise));
    const hyperv::InterruptVectors vectors = synic.auto_eoi_vectors();
    VectorSet set;
    for (int v = vectors.next(0); v >= 0; v = vectors.next(v + 1))
        set.set(static_cast<uint8_t>(v));
    VirtualLapic lapic(0, kTscHz);
    software_enable(lapic);
    lapic.set_auto_eoi_vectors(set);
    lapic.accept(0x93, false);
    lapic.acknowledge(0x93);
    EXPECT_FALSE(lapic.isr().test(0x93));
}

} // namespace
} // namespace halcyon::vmm::lapic
