// The CPUID policy guests see (vmm/partition/cpuid_policy.hpp), applied to a host CPU that
// reports everything (all bits set) so that every bit the policy hides is visible in the test.
#include "vmm/partition/cpuid_policy.hpp"

#include <cstring>
#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmm;

namespace {

virt::CpuidRegisters everything(uint32_t, uint32_t) {
    return {0xFFFF'FFFF, 0xFFFF'FFFF, 0xFFFF'FFFF, 0xFFFF'FFFF};
}

virt::CpuidRegisters leaf(uint32_t number, uint32_t subleaf = 0, CpuidContext context = {}) {
    return guest_cpuid(number, subleaf, context, everything);
}

bool bit(uint32_t value, int index) {
    return (value >> index) & 1;
}

} // namespace

TEST(CpuidPolicy, HypervisorBitAndHiddenLeaf1Features) {
    const auto r = leaf(1);
    EXPECT_TRUE(bit(r.ecx, 31)) << "hypervisor present";
    EXPECT_FALSE(bit(r.ecx, 5)) << "VMX";
    EXPECT_TRUE(bit(r.ecx, 21)) << "x2APIC (virtualized by vmm/lapic)";
    EXPECT_TRUE(bit(r.ecx, 24)) << "TSC deadline (virtualized by vmm/lapic)";
    EXPECT_FALSE(bit(r.ecx, 3)) << "MONITOR";
    EXPECT_FALSE(bit(r.ecx, 15)) << "PDCM";
    EXPECT_FALSE(bit(r.ecx, 26)) << "XSAVE";
    EXPECT_FALSE(bit(r.ecx, 28)) << "AVX";
    EXPECT_TRUE(bit(r.ecx, 0)) << "SSE3 stays";
    EXPECT_EQ(r.edx, 0xFFFF'FFFFu & ~((1u << 7) | (1u << 12) | (1u << 14)))
        << "leaf 1 EDX passes through but MCE, MTRR and MCA";
}

TEST(CpuidPolicy, TopologyFollowsTheVcpu) {
    const auto r = leaf(1, 0, CpuidContext{.vcpu_index = 3, .vcpu_count = 4});
    EXPECT_EQ(r.ebx >> 24, 3u);
    EXPECT_EQ((r.ebx >> 16) & 0xFF, 4u);
    EXPECT_EQ(r.ebx & 0xFFFF, 0xFFFFu);
}

TEST(CpuidPolicy, HypervisorLeavesAreLeftToTheHypervInterface) {
    // vmm/hyperv answers 0x40000000-0x4000FFFF (tests/unit/hyperv_cpuid_test.cpp); the policy
    // must not leak host values there.
    for (uint32_t l : {0x4000'0000u, 0x4000'0001u, 0x4000'0003u, 0x4000'0100u}) {
        const auto r = leaf(l);
        EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << std::hex << l;
    }
}

TEST(CpuidPolicy, SvmIsHidden) {
    const auto r = leaf(0x8000'0001);
    EXPECT_FALSE(bit(r.ecx, 2)) << "SVM";
    EXPECT_FALSE(bit(r.ecx, 12)) << "SKINIT";
    EXPECT_FALSE(bit(r.ecx, 23)) << "PerfCtrExtCore";
    EXPECT_FALSE(bit(r.ecx, 29)) << "MONITORX";
    EXPECT_FALSE(bit(r.edx, 27)) << "RDTSCP";
    EXPECT_TRUE(bit(r.edx, 29)) << "long mode stays";
    const auto svm = leaf(0x8000'000A);
    EXPECT_EQ(svm.eax | svm.ebx | svm.ecx | svm.edx, 0u);
}

TEST(CpuidPolicy, Leaf7IsAnAllowList) {
    const auto r = leaf(7, 0);
    EXPECT_EQ(r.eax, 0u);
    EXPECT_TRUE(bit(r.ebx, 0)) << "FSGSBASE";
    EXPECT_FALSE(bit(r.ebx, 5)) << "AVX2";
    EXPECT_FALSE(bit(r.ebx, 16)) << "AVX512F";
    EXPECT_EQ(r.ecx, 0u);
    EXPECT_EQ(r.edx, 0u);
    const auto sub1 = leaf(7, 1);
    EXPECT_EQ(sub1.ebx, 0u);
}

TEST(CpuidPolicy, PerformanceMonitoringAndXsaveLeavesAreEmpty) {
    for (uint32_t number : {0x5u, 0xAu, 0xBu, 0xDu, 0x1Fu, 0x8000'0022u}) {
        const auto r = leaf(number);
        EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << std::hex << number;
    }
}
