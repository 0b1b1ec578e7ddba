// CPUID leaves 0x40000000-0x4000FFFF of the Hyper-V interface (vmm/hyperv/cpuid.hpp), checked
// bit by bit against the TLFS and against what Linux 6.1 requires (ms_hyperv_platform,
// ms_hyperv_init_platform).
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/cpuid.hpp"
#include "vmm/hyperv/tlfs.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>

namespace halcyon::vmm::hyperv {
namespace {

virt::CpuidRegisters leaf_of(uint32_t leaf) {
    const auto result = hyperv_cpuid(leaf, test::test_info());
    EXPECT_TRUE(result.has_value()) << std::hex << leaf;
    return result.value_or(virt::CpuidRegisters{0xDEAD, 0xDEAD, 0xDEAD, 0xDEAD});
}

bool bit(uint32_t value, unsigned index) {
    return (value >> index) & 1;
}

std::string text(uint32_t a, uint32_t b, uint32_t c) {
    char buffer[12];
    std::memcpy(buffer, &a, 4);
    std::memcpy(buffer + 4, &b, 4);
    std::memcpy(buffer + 8, &c, 4);
    return std::string(buffer, 12);
}

TEST(HypervCpuid, OutsideTheHypervisorRangeIsNotOurs) {
    const HypervPartitionInfo info = test::test_info();
    EXPECT_FALSE(hyperv_cpuid(0x0, info));
    EXPECT_FALSE(hyperv_cpuid(0x3FFF'FFFF, info));
    EXPECT_FALSE(hyperv_cpuid(0x4001'0000, info));
    EXPECT_FALSE(hyperv_cpuid(0x8000'0007, info));
    EXPECT_TRUE(hyperv_cpuid(0x4000'FFFF, info));
}

TEST(HypervCpuid, VendorAndMaxLeaf) {
    const auto r = leaf_of(0x4000'0000);
    EXPECT_EQ(r.eax, 0x4000'0006u);
    // Linux accepts HYPERV_CPUID_MIN (0x40000005) <= max <= HYPERV_CPUID_MAX (0x4000ffff).
    EXPECT_GE(r.eax, 0x4000'0005u);
    EXPECT_EQ(text(r.ebx, r.ecx, r.edx), "Microsoft Hv");
    EXPECT_EQ(r.ebx, 0x7263'694Du); // the TLFS's register values
    EXPECT_EQ(r.ecx, 0x666F'736Fu);
    EXPECT_EQ(r.edx, 0x7648'2074u);
}

TEST(HypervCpuid, InterfaceIsHv1) {
    const auto r = leaf_of(0x4000'0001);
    EXPECT_EQ(r.eax, 0x3123'7648u);
    EXPECT_EQ(text(r.eax, 0, 0).substr(0, 4), "Hv#1");
    EXPECT_EQ(r.ebx | r.ecx | r.edx, 0u);
}

TEST(HypervCpuid, VersionIsWindowsServer2012R2) {
    const auto r = leaf_of(0x4000'0002);
    EXPECT_EQ(r.eax, 9600u);
    EXPECT_EQ(r.ebx >> 16, 6u);
    EXPECT_EQ(r.ebx & 0xFFFF, 3u);
    EXPECT_EQ(r.ecx, 0u);
    EXPECT_EQ(r.edx, 0u);
}

TEST(HypervCpuid, PrivilegesAreExactlyWhatIsImplemented) {
    const auto r = leaf_of(0x4000'0003);
    EXPECT_EQ(r.eax, implemented_privileges());
    EXPECT_FALSE(bit(r.eax, 0)) << "VP runtime MSR";
    EXPECT_TRUE(bit(r.eax, 1)) << "partition reference counter";
    EXPECT_TRUE(bit(r.eax, 2)) << "SynIC";
    EXPECT_TRUE(bit(r.eax, 3)) << "synthetic timers";
    EXPECT_FALSE(bit(r.eax, 4)) << "APIC MSRs (EOI/ICR/TPR) are not implemented";
    EXPECT_TRUE(bit(r.eax, 5)) << "hypercall MSRs (Linux requires them)";
    EXPECT_TRUE(bit(r.eax, 6)) << "VP index (Linux requires it)";
    EXPECT_FALSE(bit(r.eax, 7)) << "reset MSR";
    EXPECT_FALSE(bit(r.eax, 8)) << "statistics pages";
    EXPECT_TRUE(bit(r.eax, 9)) << "reference TSC page";
    EXPECT_FALSE(bit(r.eax, 10)) << "guest idle MSR";
    EXPECT_TRUE(bit(r.eax, 11)) << "frequency MSRs";
    EXPECT_FALSE(bit(r.eax, 12)) << "debug MSRs";
    EXPECT_FALSE(bit(r.eax, 13)) << "reenlightenment";
    EXPECT_TRUE(bit(r.eax, 15)) << "invariant TSC control";
    EXPECT_EQ(r.eax & ~((1u << 1) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 6) | (1u << 9) |
                        (1u << 11) | (1u << 15)),
              0u);
    EXPECT_EQ(r.ebx, implemented_privileges_ebx());
    EXPECT_TRUE(bit(r.ebx, 4)) << "PostMessages";
    EXPECT_TRUE(bit(r.ebx, 5)) << "SignalEvents";
    EXPECT_FALSE(bit(r.ebx, 0)) << "CreatePartitions";
    EXPECT_FALSE(bit(r.ebx, 1)) << "AccessPartitionId (Linux would call HvGetPartitionId)";
    EXPECT_FALSE(bit(r.ebx, 12)) << "CpuManagement (Linux would think it is the root partition)";
    EXPECT_FALSE(bit(r.ebx, 20)) << "extended hypercalls";
    EXPECT_EQ(r.ebx, (1u << 4) | (1u << 5));
    EXPECT_EQ(r.ecx, 0u);
    EXPECT_EQ(r.edx, implemented_features_edx());
    EXPECT_TRUE(bit(r.edx, 8)) << "frequency MSRs available";
    EXPECT_TRUE(bit(r.edx, 18)) << "hypercall MSR lock";
    EXPECT_FALSE(bit(r.edx, 4)) << "XMM fast hypercall input";
    EXPECT_FALSE(bit(r.edx, 10)) << "guest crash MSRs";
    EXPECT_FALSE(bit(r.edx, 15)) << "XMM fast hypercall output";
    EXPECT_TRUE(bit(r.edx, 19)) << "direct synthetic timers";
    EXPECT_EQ(r.edx, (1u << 8) | (1u << 18) | (1u << 19));
}

TEST(HypervCpuid, RecommendationsAskForNothingUnimplemented) {
    const auto r = leaf_of(0x4000'0004);
    EXPECT_EQ(r.eax, implemented_recommendations());
    EXPECT_EQ(r.eax, (1u << 5) | (1u << 9)) << "relaxed timing, deprecate AutoEOI";
    EXPECT_FALSE(bit(r.eax, 2)) << "remote TLB flush hypercall";
    EXPECT_FALSE(bit(r.eax, 3)) << "APIC MSRs";
    EXPECT_TRUE(bit(r.eax, 9)) << "deprecate AutoEOI: Linux EOIs its VMBus interrupts";
    EXPECT_FALSE(bit(r.eax, 10)) << "cluster IPI hypercall";
    EXPECT_FALSE(bit(r.eax, 14)) << "enlightened VMCS";
    EXPECT_EQ(r.ebx, 0xFFFF'FFFFu) << "never notify long spin waits";
    EXPECT_EQ(r.ecx, 48u) << "implemented physical address bits";
    EXPECT_EQ(r.edx, 0u);
}

TEST(HypervCpuid, PhysicalAddressBitsZeroMeansNotReported) {
    HypervPartitionInfo info = test::test_info();
    info.physical_address_bits = 0;
    EXPECT_EQ(hyperv_cpuid(0x4000'0004, info)->ecx, 0u);
}

TEST(HypervCpuid, Limits) {
    const auto r = leaf_of(0x4000'0005);
    EXPECT_EQ(r.eax, 64u) << "maximum virtual processors";
    EXPECT_EQ(r.ebx, 16u) << "logical processors, as the partition reports them";
    EXPECT_EQ(r.ecx, 0u) << "no interrupt remapping vectors";
    EXPECT_EQ(r.edx, 0u);
}

TEST(HypervCpuid, HardwareFeaturesInUse) {
    const auto r = leaf_of(0x4000'0006);
    EXPECT_EQ(r.eax, (1u << 1) | (1u << 3)) << "MSR bitmaps and SLAT";
    EXPECT_EQ(r.ebx | r.ecx | r.edx, 0u);
}

TEST(HypervCpuid, LeavesAboveTheMaximumReadZero) {
    // Linux reads 0x4000000A only when the max leaf reaches it, and 0x40000081/82 (virtual
    // stack interface) always: a zero EAX there is not "VS#1", so no extended IOAPIC RTE.
    for (uint32_t leaf : {0x4000'0007u, 0x4000'0009u, 0x4000'000Au, 0x4000'000Cu, 0x4000'0081u,
                          0x4000'0082u, 0x4000'0100u, 0x4000'FFFFu}) {
        const auto r = leaf_of(leaf);
        EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << std::hex << leaf;
    }
}

TEST(HypervCpuid, PartitionForwardsToTheFreeFunction) {
    const HypervPartition partition(test::test_info());
    EXPECT_EQ(partition.cpuid(0x4000'0003)->eax, implemented_privileges());
    EXPECT_FALSE(partition.cpuid(1));
}

} // namespace
} // namespace halcyon::vmm::hyperv
