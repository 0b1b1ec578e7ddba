// Synthetic MSRs of vmm/hyperv/hyperv_partition.hpp: access rules (read-only, reserved bits,
// per-vCPU vs partition-wide), the guest OS ID / hypercall MSR protocol of the TLFS, and the
// overlay pages written through GuestPageWriter. The sequence Linux 6.1 runs is replayed at the
// end (LinuxBootSequence).
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/hypercall_page.hpp"
#include "vmm/hyperv/tlfs.hpp"

#include <algorithm>
#include <gtest/gtest.h>

namespace halcyon::vmm::hyperv {
namespace {

using test::FakeGuestRam;
using test::kLinuxGuestOsId;

class HypervMsr : public ::testing::Test {
protected:
    uint64_t read(uint32_t msr, uint32_t vcpu = 0, uint64_t tsc = test::kTestCreationTsc) {
        uint64_t value = 0xBAD;
        EXPECT_TRUE(hv.read_msr(vcpu, msr, tsc, value)) << std::hex << msr;
        return value;
    }
    bool write(uint32_t msr, uint64_t value, uint32_t vcpu = 0) {
        return hv.write_msr(vcpu, msr, value, ram);
    }

    HypervPartition hv{test::test_info()};
    FakeGuestRam ram{test::kTestRamSize};
};

TEST_F(HypervMsr, ClaimsExactlyTheImplementedMsrs) {
    for (uint32_t msr : {0x4000'0000u, 0x4000'0001u, 0x4000'0002u, 0x4000'0020u, 0x4000'0021u,
                         0x4000'0022u, 0x4000'0023u, 0x4000'0073u, 0x4000'0118u})
        EXPECT_TRUE(HypervPartition::claims_msr(msr)) << std::hex << msr;
    // The SynIC and synthetic timers (per vCPU: synic(vcpu) handles them, not read/write_msr).
    for (uint32_t msr = 0x4000'0080u; msr <= 0x4000'0084u; ++msr)
        EXPECT_TRUE(HypervPartition::claims_msr(msr)) << std::hex << msr;
    for (uint32_t msr = 0x4000'0090u; msr <= 0x4000'009Fu; ++msr)
        EXPECT_TRUE(HypervPartition::claims_msr(msr)) << std::hex << msr;
    for (uint32_t msr = 0x4000'00B0u; msr <= 0x4000'00B7u; ++msr)
        EXPECT_TRUE(HypervPartition::claims_msr(msr)) << std::hex << msr;
    uint64_t value = 0;
    EXPECT_FALSE(hv.read_msr(0, msr::kScontrol, 0, value));
    EXPECT_FALSE(hv.write_msr(0, msr::kStimer0Config, 0, ram));
    // Not implemented, so left to the partition's policy (#GP): reset, VP runtime, APIC MSRs,
    // the SynIC's neighbours, synthetic time-unhalted timer, crash MSRs, guest idle,
    // reenlightenment.
    for (uint32_t msr :
         {0x4000'0003u, 0x4000'0010u, 0x4000'0070u, 0x4000'0071u, 0x4000'0072u, 0x4000'0085u,
          0x4000'008Fu, 0x4000'00A0u, 0x4000'00AFu, 0x4000'00B8u, 0x4000'00BFu, 0x4000'0100u,
          0x4000'0105u, 0x4000'00F0u, 0x4000'0106u, 0x10u, 0x1Bu})
        EXPECT_FALSE(HypervPartition::claims_msr(msr)) << std::hex << msr;
}

TEST_F(HypervMsr, InitialValuesAreZero) {
    for (uint32_t msr : {msr::kGuestOsId, msr::kHypercall, msr::kReferenceTsc, msr::kVpAssistPage,
                         msr::kTscInvariantControl})
        EXPECT_EQ(read(msr), 0u) << std::hex << msr;
    EXPECT_EQ(read(msr::kTimeRefCount), 0u) << "reference time is zero at creation";
}

TEST_F(HypervMsr, ReadOnlyMsrsRefuseWrites) {
    for (uint32_t msr :
         {msr::kVpIndex, msr::kTimeRefCount, msr::kTscFrequency, msr::kApicFrequency}) {
        const uint64_t before = read(msr);
        EXPECT_FALSE(write(msr, 0)) << std::hex << msr;
        EXPECT_FALSE(write(msr, before)) << std::hex << msr;
        EXPECT_EQ(read(msr), before);
    }
}

TEST_F(HypervMsr, UnclaimedMsrsAreRefused) {
    uint64_t value = 0;
    EXPECT_FALSE(hv.read_msr(0, 0x4000'0070, 0, value));
    EXPECT_FALSE(write(0x4000'0070, 0));
}

TEST_F(HypervMsr, VpIndexIsTheVcpuIndex) {
    for (uint32_t vcpu = 0; vcpu < 4; ++vcpu)
        EXPECT_EQ(read(msr::kVpIndex, vcpu), vcpu);
    uint64_t value = 0;
    EXPECT_FALSE(hv.read_msr(4, msr::kVpIndex, 0, value)) << "no such vCPU";
    EXPECT_FALSE(hv.write_msr(4, msr::kGuestOsId, 1, ram));
}

TEST_F(HypervMsr, Frequencies) {
    EXPECT_EQ(read(msr::kTscFrequency), test::kTestTscHz);
    EXPECT_EQ(read(msr::kApicFrequency), 100'000'000u);
}

TEST_F(HypervMsr, ReferenceCounterCountsHundredNanosecondsFromCreation) {
    const uint64_t second = test::kTestCreationTsc + test::kTestTscHz;
    EXPECT_EQ(read(msr::kTimeRefCount, 0, second), 10'000'000u);
    EXPECT_EQ(read(msr::kTimeRefCount, 2, second), 10'000'000u) << "partition-wide";
    EXPECT_EQ(read(msr::kTimeRefCount, 0, test::kTestCreationTsc + 250), 1u); // 100 ns
}

TEST_F(HypervMsr, GuestOsIdIsPartitionWide) {
    EXPECT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId, 1));
    EXPECT_EQ(read(msr::kGuestOsId, 3), kLinuxGuestOsId);
}

TEST_F(HypervMsr, HypercallEnableNeedsAGuestOsId) {
    // TLFS: without a guest OS identity the enable bit remains zero even if one is written; the
    // write itself succeeds.
    EXPECT_TRUE(write(msr::kHypercall, 0x5000 | kOverlayEnable));
    EXPECT_EQ(read(msr::kHypercall), 0x5000u);
    EXPECT_FALSE(hv.hypercalls_enabled());
    EXPECT_EQ(ram.calls, 0) << "no page written";
}

TEST_F(HypervMsr, HypercallEnableWritesThePage) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x5000 | kOverlayEnable, 2));
    EXPECT_EQ(read(msr::kHypercall, 0), 0x5001u) << "partition-wide";
    EXPECT_TRUE(hv.hypercalls_enabled());
    const auto code = hypercall_page_code(CpuVendor::amd);
    const auto page = ram.page(0x5000);
    EXPECT_TRUE(std::equal(code.begin(), code.end(), page.begin()));
    for (size_t i = code.size(); i < page.size(); ++i)
        ASSERT_EQ(page[i], 0) << i;
}

TEST_F(HypervMsr, IntelPartitionsGetVmcall) {
    HypervPartition intel(test::test_info(CpuVendor::intel));
    ASSERT_TRUE(intel.write_msr(0, msr::kGuestOsId, kLinuxGuestOsId, ram));
    ASSERT_TRUE(intel.write_msr(0, msr::kHypercall, 0x6001, ram));
    EXPECT_EQ(ram.page(0x6000)[4], 0x0F);
    EXPECT_EQ(ram.page(0x6000)[5], 0x01);
    EXPECT_EQ(ram.page(0x6000)[6], 0xC1);
}

TEST_F(HypervMsr, HypercallPageOutsideRamIsGeneralProtection) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    EXPECT_FALSE(write(msr::kHypercall, test::kTestRamSize | kOverlayEnable));
    EXPECT_FALSE(write(msr::kHypercall, 0xFFFF'FFFF'FFFF'F001));
    EXPECT_EQ(read(msr::kHypercall), 0u) << "a refused write changes nothing";
    EXPECT_FALSE(hv.hypercalls_enabled());
}

TEST_F(HypervMsr, HypercallReservedBitsArePreserved) {
    // Bits 11:2 are RsvdP: no fault, kept as written (the guest is told to preserve them).
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x7000 | 0xFFC | kOverlayEnable));
    EXPECT_EQ(read(msr::kHypercall), 0x7FFDu);
    EXPECT_TRUE(hv.hypercalls_enabled());
}

TEST_F(HypervMsr, ClearingTheGuestOsIdDisablesHypercalls) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x5001));
    ASSERT_TRUE(write(msr::kGuestOsId, 0));
    EXPECT_FALSE(hv.hypercalls_enabled());
    EXPECT_EQ(read(msr::kHypercall), 0x5000u) << "the page address stays";
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    EXPECT_FALSE(hv.hypercalls_enabled()) << "re-enabling takes a new HYPERCALL write";
}

TEST_F(HypervMsr, DisablingTheHypercallPage) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x5001));
    ASSERT_TRUE(write(msr::kHypercall, 0x5000));
    EXPECT_FALSE(hv.hypercalls_enabled());
}

TEST_F(HypervMsr, LockedHypercallMsrIsImmutable) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x5000 | kHypercallLocked | kOverlayEnable));
    const int pages_written = ram.calls;
    EXPECT_TRUE(write(msr::kHypercall, 0x8001)) << "ignored, not faulted";
    EXPECT_TRUE(write(msr::kHypercall, 0));
    EXPECT_EQ(read(msr::kHypercall), 0x5003u);
    EXPECT_EQ(ram.calls, pages_written) << "no relocation";
    hv.reset();
    EXPECT_EQ(read(msr::kHypercall), 0u) << "only a reset clears the lock";
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    EXPECT_TRUE(write(msr::kHypercall, 0x8001));
    EXPECT_EQ(read(msr::kHypercall), 0x8001u);
}

TEST_F(HypervMsr, ReferenceTscPage) {
    // Linux enables it before it writes the guest OS ID (hv_init_tsc_clocksource runs in
    // ms_hyperv_init_platform, hyperv_init later): no dependency on the OS ID.
    ASSERT_TRUE(write(msr::kReferenceTsc, 0x9000 | kOverlayEnable));
    EXPECT_EQ(read(msr::kReferenceTsc, 1), 0x9001u) << "partition-wide";
    EXPECT_EQ(ram.load<uint32_t>(0x9000), 1u) << "TscSequence: valid";
    EXPECT_EQ(ram.load<uint32_t>(0x9004), 0u);
    EXPECT_EQ(ram.load<uint64_t>(0x9008), hv.clock().scale());
    EXPECT_EQ(ram.load<int64_t>(0x9010), hv.clock().offset());
    for (uint64_t offset = 24; offset < kPageSize; ++offset)
        ASSERT_EQ(ram.page(0x9000)[offset], 0) << offset;
    // The guest's formula on the page gives what the MSR says.
    const uint64_t tsc = test::kTestCreationTsc + 123'456'789'012;
    const auto scale = ram.load<uint64_t>(0x9008);
    const auto offset = ram.load<int64_t>(0x9010);
    const uint64_t from_page = static_cast<uint64_t>(
        ((static_cast<unsigned __int128>(tsc) * scale) >> 64) + static_cast<uint64_t>(offset));
    EXPECT_EQ(from_page, read(msr::kTimeRefCount, 0, tsc));
}

TEST_F(HypervMsr, ReferenceTscPageOutsideRamIsNoFault) {
    // TLFS: a page beyond the guest-physical space is just not accessible.
    EXPECT_TRUE(write(msr::kReferenceTsc, test::kTestRamSize | kOverlayEnable));
    EXPECT_EQ(read(msr::kReferenceTsc), test::kTestRamSize | kOverlayEnable);
}

TEST_F(HypervMsr, ReferenceTscDisableWritesNothing) {
    EXPECT_TRUE(write(msr::kReferenceTsc, 0x9000));
    EXPECT_EQ(ram.calls, 0);
    EXPECT_EQ(ram.page(0x9000)[0], 0xCC);
}

TEST_F(HypervMsr, VpAssistPageIsPerVcpuAndZeroed) {
    ASSERT_TRUE(write(msr::kVpAssistPage, 0xA000 | kOverlayEnable, 1));
    EXPECT_EQ(read(msr::kVpAssistPage, 1), 0xA001u);
    EXPECT_EQ(read(msr::kVpAssistPage, 0), 0u) << "per vCPU";
    for (uint8_t byte : ram.page(0xA000))
        ASSERT_EQ(byte, 0);
    EXPECT_EQ(ram.page(0xB000)[0], 0xCC) << "nothing else touched";
    ASSERT_TRUE(write(msr::kVpAssistPage, 0xA000, 1)) << "hv_cpu_die disables it";
    EXPECT_EQ(read(msr::kVpAssistPage, 1), 0xA000u);
}

TEST_F(HypervMsr, TscInvariantControl) {
    virt::CpuidRegisters leaf{0, 0, 0, 0};
    hv.adjust_cpuid(0x8000'0007, leaf);
    EXPECT_EQ(leaf.edx, 0u) << "not exposed before the guest asks";
    EXPECT_FALSE(write(msr::kTscInvariantControl, 2)) << "reserved bit";
    EXPECT_FALSE(write(msr::kTscInvariantControl, uint64_t{1} << 63));
    ASSERT_TRUE(write(msr::kTscInvariantControl, 1));
    EXPECT_EQ(read(msr::kTscInvariantControl, 3), 1u) << "partition-wide";
    hv.adjust_cpuid(0x8000'0007, leaf);
    EXPECT_EQ(leaf.edx, 1u << 8);
    virt::CpuidRegisters other{1, 2, 3, 4};
    hv.adjust_cpuid(0x8000'0001, other);
    EXPECT_EQ(other.edx, 4u) << "other leaves untouched";
    virt::CpuidRegisters host_bits{0, 0, 0, 0x1FF};
    ASSERT_TRUE(write(msr::kTscInvariantControl, 0));
    hv.adjust_cpuid(0x8000'0007, host_bits);
    EXPECT_EQ(host_bits.edx, 0x1FFu) << "the host's own bits are never removed";
}

TEST_F(HypervMsr, ResetClearsEveryMsr) {
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    ASSERT_TRUE(write(msr::kHypercall, 0x5001));
    ASSERT_TRUE(write(msr::kReferenceTsc, 0x9001));
    ASSERT_TRUE(write(msr::kVpAssistPage, 0xA001, 3));
    ASSERT_TRUE(write(msr::kTscInvariantControl, 1));
    hv.reset();
    for (uint32_t msr :
         {msr::kGuestOsId, msr::kHypercall, msr::kReferenceTsc, msr::kTscInvariantControl})
        EXPECT_EQ(read(msr), 0u) << std::hex << msr;
    EXPECT_EQ(read(msr::kVpAssistPage, 3), 0u);
    EXPECT_FALSE(hv.hypercalls_enabled());
    EXPECT_EQ(read(msr::kTimeRefCount, 0, test::kTestCreationTsc + 2'500), 10u)
        << "the reference time keeps its origin";
}

// What Linux 6.1 does on every boot (ms_hyperv_init_platform, hv_init_tsc_clocksource,
// hyperv_init, hv_cpu_init per CPU), with the values it writes.
TEST_F(HypervMsr, LinuxBootSequence) {
    EXPECT_EQ(read(msr::kTscFrequency) / 1000, 2'500'000u) << "hv_get_tsc_khz";
    EXPECT_EQ(read(msr::kApicFrequency) / 250, 400'000u) << "lapic_timer_period at HZ=250";
    ASSERT_TRUE(write(msr::kTscInvariantControl, 1));
    uint64_t tsc_msr = read(msr::kReferenceTsc);
    ASSERT_TRUE(write(msr::kReferenceTsc, (tsc_msr & 0xFFE) | 0x3000 | 1));
    ASSERT_TRUE(write(msr::kGuestOsId, kLinuxGuestOsId));
    const uint64_t hypercall = read(msr::kHypercall);
    ASSERT_TRUE(write(msr::kHypercall, (hypercall & 0xFFF) | 0x4000 | 1));
    EXPECT_TRUE(read(msr::kHypercall) & 1) << "hv_is_hyperv_initialized";
    for (uint32_t cpu = 0; cpu < 4; ++cpu) {
        EXPECT_EQ(read(msr::kVpIndex, cpu), cpu);
        ASSERT_TRUE(write(msr::kVpAssistPage, (0x10 + cpu) * kPageSize | 1, cpu));
    }
    EXPECT_EQ(ram.load<uint32_t>(0x3000), 1u);
    EXPECT_EQ(ram.page(0x4000)[4], 0x0F);
}

} // namespace
} // namespace halcyon::vmm::hyperv
