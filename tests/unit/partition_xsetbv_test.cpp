// XSETBV as the SVM backend emulates it (vmm/partition/cpuid_policy.hpp, check_xsetbv): the
// architectural rules of the Intel SDM and AMD APM for every input the guest controls.
#include "vmm/partition/cpuid_policy.hpp"

#include <gtest/gtest.h>

using namespace halcyon;
using namespace halcyon::vmm;

namespace {

constexpr uint64_t kOsxsave = 1ull << 18;
constexpr uint64_t kAvxHost = 0x7; // what guests get on an AVX host (x87 | SSE | AVX)

XsetbvOutcome attempt(uint64_t value, uint64_t supported = kAvxHost, uint8_t cpl = 0,
                      uint32_t ecx = 0, uint64_t cr4 = kOsxsave) {
    return check_xsetbv(XsetbvAttempt{.cr4 = cr4, .cpl = cpl, .ecx = ecx, .value = value},
                        supported);
}

constexpr auto kWrite = XsetbvOutcome::write;
constexpr auto kGp = XsetbvOutcome::general_protection;
constexpr auto kUd = XsetbvOutcome::invalid_opcode;

} // namespace

TEST(Xsetbv, ValidValuesAreWritten) {
    EXPECT_EQ(attempt(0x1), kWrite) << "x87 only (the reset value)";
    EXPECT_EQ(attempt(0x3), kWrite) << "x87 | SSE";
    EXPECT_EQ(attempt(0x7), kWrite) << "x87 | SSE | AVX";
}

TEST(Xsetbv, WithoutCr4OsxsaveItIsUndefined) {
    EXPECT_EQ(attempt(0x7, kAvxHost, 0, 0, 0), kUd);
    // #UD wins over every #GP reason: it is a decode-time fault.
    EXPECT_EQ(attempt(0x0, kAvxHost, 3, 5, 0), kUd);
    EXPECT_EQ(attempt(0x1, 0), kUd) << "a host without XSAVE gives guests none";
}

TEST(Xsetbv, OnlyCpl0MayWrite) {
    EXPECT_EQ(attempt(0x7, kAvxHost, 1), kGp);
    EXPECT_EQ(attempt(0x7, kAvxHost, 3), kGp);
}

TEST(Xsetbv, OnlyXcr0Exists) {
    EXPECT_EQ(attempt(0x7, kAvxHost, 0, 1), kGp) << "XCR1 (XINUSE) is read-only";
    EXPECT_EQ(attempt(0x7, kAvxHost, 0, 0x8000'0000), kGp);
}

TEST(Xsetbv, X87MayNotBeCleared) {
    EXPECT_EQ(attempt(0x0), kGp);
    EXPECT_EQ(attempt(0x2), kGp);
    EXPECT_EQ(attempt(0x6), kGp);
}

TEST(Xsetbv, AvxNeedsSse) {
    EXPECT_EQ(attempt(0x5), kGp);
}

TEST(Xsetbv, UnsupportedBitsAreReserved) {
    EXPECT_EQ(attempt(0x7, 0x3), kGp) << "AVX on a host whose AVX is not offered";
    EXPECT_EQ(attempt(0x1F), kGp) << "MPX";
    EXPECT_EQ(attempt(0xE7), kGp) << "AVX-512";
    EXPECT_EQ(attempt(0x207), kGp) << "PKRU";
    EXPECT_EQ(attempt(0x6'0007), kGp) << "AMX";
    EXPECT_EQ(attempt(0x8000'0000'0000'0007), kGp) << "bit 63";
    EXPECT_EQ(attempt(0x1'0000'0007), kGp) << "EDX bits";
}

// The group rules, with a wider `supported` than Halcyon offers today, so that they hold the
// day more components are allowed.
TEST(Xsetbv, GroupsAreAllOrNothing) {
    constexpr uint64_t kEverything = 0x6'02FF;
    EXPECT_EQ(attempt(0x1F, kEverything), kWrite) << "both MPX components";
    EXPECT_EQ(attempt(0x0F, kEverything), kGp) << "BNDREGS without BNDCSR";
    EXPECT_EQ(attempt(0x17, kEverything), kGp) << "BNDCSR without BNDREGS";
    EXPECT_EQ(attempt(0xE7, kEverything), kWrite) << "all of AVX-512 with AVX and SSE";
    EXPECT_EQ(attempt(0x67, kEverything), kGp) << "AVX-512 missing Hi16_ZMM";
    EXPECT_EQ(attempt(0xE3, kEverything), kGp) << "AVX-512 without AVX";
    EXPECT_EQ(attempt(0xE5, kEverything), kGp) << "AVX-512 without SSE (and AVX without SSE)";
    EXPECT_EQ(attempt(0x6'0003, kEverything), kWrite) << "both AMX components";
    EXPECT_EQ(attempt(0x2'0003, kEverything), kGp) << "TILECFG without TILEDATA";
    EXPECT_EQ(attempt(0x203, kEverything), kWrite) << "PKRU alone";
}
