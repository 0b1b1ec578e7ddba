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
    EXPECT_TRUE(bit(r.ecx, 26)) << "XSAVE";
    EXPECT_FALSE(bit(r.ecx, 27)) << "OSXSAVE follows the guest's CR4 (0 here)";
    EXPECT_FALSE(bit(r.ecx, 28)) << "AVX: its state (all-ones offset and size) cannot fit";
    EXPECT_TRUE(bit(r.ecx, 0)) << "SSE3 stays";
    EXPECT_FALSE(bit(r.ecx, 2)) << "DTES64";
    EXPECT_FALSE(bit(r.ecx, 4)) << "DS-CPL";
    EXPECT_FALSE(bit(r.ecx, 6)) << "SMX";
    EXPECT_FALSE(bit(r.ecx, 7)) << "EST";
    EXPECT_FALSE(bit(r.ecx, 8)) << "TM2";
    EXPECT_FALSE(bit(r.ecx, 14)) << "xTPR update control";
    EXPECT_EQ(r.edx, 0xFFFF'FFFFu & ~((1u << 7) | (1u << 12) | (1u << 14) | (1u << 21) |
                                      (1u << 22) | (1u << 29) | (1u << 31)))
        << "leaf 1 EDX passes through but MCE, MTRR, MCA, DS, ACPI (thermal MSRs), TM, PBE";
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
    EXPECT_TRUE(bit(r.edx, 29)) << "long mode stays (leaf 1's TM bit has the same number)";
    EXPECT_TRUE(bit(r.edx, 20)) << "NX stays";
    EXPECT_TRUE(bit(r.edx, 31)) << "3DNow! (leaf 1's PBE bit) passes through";
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

TEST(CpuidPolicy, PerformanceMonitoringAndTopologyLeavesAreEmpty) {
    for (uint32_t number : {0x5u, 0xAu, 0xBu, 0x1Fu, 0x8000'0022u}) {
        const auto r = leaf(number);
        EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << std::hex << number;
    }
}

// XSAVE and the AVX family, against recorded-style hosts rather than all-ones: leaf 0xD only
// makes sense with real component offsets and sizes.
namespace {

constexpr uint32_t kXsave = 1u << 26, kOsxsave = 1u << 27, kAvx = 1u << 28;
constexpr uint32_t kF16c = 1u << 29, kFma = 1u << 12;
constexpr uint64_t kCr4OsxsaveBit = 1ull << 18;

// An AMD EPYC (Zen) as QEMU models it: XSAVE with x87/SSE/AVX, XSAVEOPT/XSAVEC/XGETBV1/XSAVES,
// AVX2, FMA, F16C; the host runs with CR4.OSXSAVE and XCR0 = x87|SSE.
virt::CpuidRegisters epyc(uint32_t leaf, uint32_t subleaf) {
    switch (leaf) {
    case 0x0:
        return {0xD, 0x6874'7541, 0x444D'4163, 0x6974'6E65};
    case 0x1:
        return {0x0080'0F12, 0x0000'0800, 0x7ED8'320B | kXsave | kOsxsave | kAvx | kF16c | kFma,
                0x178B'FBFF};
    case 0x7:
        return subleaf == 0 ? virt::CpuidRegisters{0, 0x209C'01A9, 0, 0}
                            : virt::CpuidRegisters{0, 0, 0, 0};
    case 0xD:
        switch (subleaf) {
        case 0:
            return {0x7, 576, 832, 0};
        case 1:
            return {0xF, 576, 0, 0};
        case 2:
            return {256, 576, 0, 0};
        default:
            return {0, 0, 0, 0};
        }
    case 0x8000'0001:
        return {0x0080'0F12, 0, 0x35C2'33FF | (1u << 11) | (1u << 16), 0x2FD3'FBFF};
    default:
        return {0, 0, 0, 0};
    }
}

// A host with AVX-512 and PKRU (components 5-7 and 9): none of it is offered.
virt::CpuidRegisters avx512_host(uint32_t leaf, uint32_t subleaf) {
    if (leaf == 0x7 && subleaf == 0)
        return {0, 0xFFFF'FFFF, 0xFFFF'FFFF, 0xFFFF'FFFF};
    if (leaf != 0xD)
        return epyc(leaf, subleaf);
    switch (subleaf) {
    case 0:
        return {0x2E7, 2696, 2696, 0};
    case 5:
        return {64, 1088, 0, 0};
    case 6:
        return {512, 1152, 0, 0};
    case 7:
        return {1024, 1664, 0, 0};
    case 9:
        return {8, 2688, 0, 0};
    default:
        return epyc(leaf, subleaf);
    }
}

// AVX reported at an offset that leaves its state beyond the per-vCPU save area.
virt::CpuidRegisters avx_too_big(uint32_t leaf, uint32_t subleaf) {
    if (leaf == 0xD && subleaf == 2)
        return {256, 960, 0, 0};
    return epyc(leaf, subleaf);
}

virt::CpuidRegisters no_xsave(uint32_t leaf, uint32_t subleaf) {
    virt::CpuidRegisters r = epyc(leaf, subleaf);
    if (leaf == 0x1)
        r.ecx &= ~(kXsave | kOsxsave);
    return r;
}

// A CPU whose highest basic leaf is below 0xD (leaf 0xD would return another leaf's data).
virt::CpuidRegisters old_max_leaf(uint32_t leaf, uint32_t subleaf) {
    virt::CpuidRegisters r = epyc(leaf, subleaf);
    if (leaf == 0x0)
        r.eax = 0x7;
    return r;
}

CpuidContext with(uint64_t cr4, uint64_t guest_xcr0) {
    return CpuidContext{
        .vcpu_index = 0, .vcpu_count = 1, .guest_cr4 = cr4, .guest_xcr0 = guest_xcr0};
}

} // namespace

TEST(CpuidPolicyXsave, SupportedXcr0IsTheAllowedPartOfTheHosts) {
    EXPECT_EQ(guest_supported_xcr0(epyc), 0x7u);
    EXPECT_EQ(guest_supported_xcr0(avx512_host), 0x7u) << "AVX-512 and PKRU are not offered";
    EXPECT_EQ(guest_supported_xcr0(avx_too_big), 0x3u) << "AVX would not fit the save area";
    EXPECT_EQ(guest_supported_xcr0(no_xsave), 0u);
    EXPECT_EQ(guest_supported_xcr0(old_max_leaf), 0u);
}

TEST(CpuidPolicyXsave, Leaf1OffersXsaveAndTheAvxFamily) {
    const auto off = guest_cpuid(1, 0, with(0, 1), epyc);
    EXPECT_TRUE(off.ecx & kXsave);
    EXPECT_TRUE(off.ecx & kAvx);
    EXPECT_TRUE(off.ecx & kF16c);
    EXPECT_TRUE(off.ecx & kFma);
    EXPECT_FALSE(off.ecx & kOsxsave)
        << "the host's OSXSAVE must not leak: the guest's CR4 has none";
    const auto on = guest_cpuid(1, 0, with(kCr4OsxsaveBit, 1), epyc);
    EXPECT_TRUE(on.ecx & kOsxsave) << "OSXSAVE mirrors the guest's CR4.OSXSAVE";
    EXPECT_EQ(on.ecx & ~kOsxsave, off.ecx);
}

TEST(CpuidPolicyXsave, WithoutAvxStateTheAvxFamilyIsHidden) {
    const auto r = guest_cpuid(1, 0, with(kCr4OsxsaveBit, 3), avx_too_big);
    EXPECT_TRUE(r.ecx & kXsave);
    EXPECT_TRUE(r.ecx & kOsxsave);
    EXPECT_FALSE(r.ecx & kAvx);
    EXPECT_FALSE(r.ecx & kF16c);
    EXPECT_FALSE(r.ecx & kFma);
    EXPECT_FALSE(guest_cpuid(7, 0, {}, avx_too_big).ebx & (1u << 5)) << "AVX2";
    const auto ext = guest_cpuid(0x8000'0001, 0, {}, avx_too_big);
    EXPECT_FALSE(ext.ecx & (1u << 11)) << "XOP";
    EXPECT_FALSE(ext.ecx & (1u << 16)) << "FMA4";
    EXPECT_EQ(guest_cpuid(0xD, 0, with(kCr4OsxsaveBit, 3), avx_too_big).eax, 0x3u);
}

TEST(CpuidPolicyXsave, WithoutHostXsaveEverythingIsHidden) {
    const auto r = guest_cpuid(1, 0, with(kCr4OsxsaveBit, 1), no_xsave);
    EXPECT_EQ(r.ecx & (kXsave | kOsxsave | kAvx | kF16c | kFma), 0u);
    EXPECT_FALSE(guest_cpuid(7, 0, {}, no_xsave).ebx & (1u << 5)) << "AVX2";
    for (uint32_t sub = 0; sub < 4; ++sub) {
        const auto d = guest_cpuid(0xD, sub, {}, no_xsave);
        EXPECT_EQ(d.eax | d.ebx | d.ecx | d.edx, 0u) << sub;
    }
}

TEST(CpuidPolicyXsave, Leaf7OffersAvx2ButNoAvx512) {
    const auto r = guest_cpuid(7, 0, {}, avx512_host);
    EXPECT_TRUE(r.ebx & (1u << 5)) << "AVX2";
    EXPECT_FALSE(r.ebx & (1u << 16)) << "AVX512F";
    EXPECT_FALSE(r.ebx & (1u << 14)) << "MPX";
    EXPECT_EQ(r.ecx, 0u) << "PKU/OSPKE and the rest of ECX";
    const auto ext = guest_cpuid(0x8000'0001, 0, {}, epyc);
    EXPECT_TRUE(ext.ecx & (1u << 11)) << "XOP (YMM state)";
    EXPECT_TRUE(ext.ecx & (1u << 16)) << "FMA4 (YMM state)";
}

TEST(CpuidPolicyXsave, Leaf0DSubleaf0SizesFollowTheGuestsXcr0) {
    const auto x87 = guest_cpuid(0xD, 0, with(kCr4OsxsaveBit, 1), epyc);
    EXPECT_EQ(x87.eax, 0x7u) << "XSETBV may set x87, SSE, AVX";
    EXPECT_EQ(x87.edx, 0u);
    EXPECT_EQ(x87.ebx, 576u) << "legacy region + header";
    EXPECT_EQ(x87.ecx, 832u) << "all supported components";
    EXPECT_EQ(guest_cpuid(0xD, 0, with(kCr4OsxsaveBit, 3), epyc).ebx, 576u);
    EXPECT_EQ(guest_cpuid(0xD, 0, with(kCr4OsxsaveBit, 7), epyc).ebx, 832u);
    // The host's own XCR0 (x87|SSE, EBX = 576) must not show through.
    const auto big = guest_cpuid(0xD, 0, with(kCr4OsxsaveBit, 7), avx512_host);
    EXPECT_EQ(big.eax, 0x7u);
    EXPECT_EQ(big.ebx, 832u);
    EXPECT_EQ(big.ecx, 832u) << "not the host's 2696: AVX-512 and PKRU are not offered";
}

TEST(CpuidPolicyXsave, Leaf0DSubleaf1HidesXsaves) {
    const auto r = guest_cpuid(0xD, 1, with(kCr4OsxsaveBit, 7), epyc);
    EXPECT_EQ(r.eax, 0x7u) << "XSAVEOPT, XSAVEC, XGETBV ECX=1; not XSAVES";
    EXPECT_EQ(r.ebx, 832u) << "compacted size of XCR0 (IA32_XSS is 0)";
    EXPECT_EQ(r.ecx, 0u) << "no IA32_XSS components";
    EXPECT_EQ(r.edx, 0u);
    EXPECT_EQ(guest_cpuid(0xD, 1, with(kCr4OsxsaveBit, 3), epyc).ebx, 576u);
}

TEST(CpuidPolicyXsave, Leaf0DComponentSubleaves) {
    const auto avx = guest_cpuid(0xD, 2, {}, epyc);
    EXPECT_EQ(avx.eax, 256u);
    EXPECT_EQ(avx.ebx, 576u);
    EXPECT_EQ(avx.ecx, 0u);
    EXPECT_EQ(avx.edx, 0u);
    for (uint32_t sub : {3u, 5u, 6u, 7u, 9u, 17u, 62u, 63u, 64u, 0xFFFF'FFFFu}) {
        const auto r = guest_cpuid(0xD, sub, {}, avx512_host);
        EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << sub;
    }
}

TEST(CpuidPolicyXsave, AreaSizes) {
    EXPECT_EQ(xsave_standard_size(0x3, epyc), 576u);
    EXPECT_EQ(xsave_standard_size(0x7, epyc), 832u);
    EXPECT_EQ(xsave_standard_size(0xE7, avx512_host), 2688u);
    EXPECT_EQ(xsave_standard_size(0x27, avx512_host), 1152u) << "opmask ends at 1088 + 64";
    // Compacted: components packed in order (AVX 256, then opmask 64 at 832 ...).
    EXPECT_EQ(xsave_compacted_size(0x7, epyc), 832u);
    EXPECT_EQ(xsave_compacted_size(0x27, avx512_host), 896u);
}
