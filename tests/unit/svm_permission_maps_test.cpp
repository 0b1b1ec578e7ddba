// Bit arithmetic of the SVM I/O and MSR permission maps (vmm/svm/permission_maps.hpp).
#include "vmm/svm/permission_maps.hpp"

#include <gtest/gtest.h>
#include <vector>

using namespace halcyon::svm;

TEST(PermissionMaps, EverythingInterceptedByDefault) {
    std::vector<uint8_t> msrpm(kMsrpmBytes, 0);
    intercept_all(msrpm);
    EXPECT_TRUE(msr_intercepted(msrpm, 0x10, false));
    EXPECT_TRUE(msr_intercepted(msrpm, 0xC000'0080, true));
    std::vector<uint8_t> iopm(kIopmBytes, 0);
    intercept_all(iopm);
    EXPECT_TRUE(port_intercepted(iopm, 0x3F8));
    EXPECT_TRUE(port_intercepted(iopm, 0xFFFF));
}

TEST(PermissionMaps, MsrBitsFollowTheApmLayout) {
    std::vector<uint8_t> msrpm(kMsrpmBytes, 0xFF);
    // LSTAR (0xC0000082): range 2 at byte 0x800, MSR offset 0x82 -> bits 0x104 (read), 0x105.
    ASSERT_TRUE(allow_msr(msrpm, 0xC000'0082, true, false));
    EXPECT_EQ(msrpm[0x800 + 0x104 / 8], static_cast<uint8_t>(~(1u << (0x104 % 8))));
    EXPECT_FALSE(msr_intercepted(msrpm, 0xC000'0082, false));
    EXPECT_TRUE(msr_intercepted(msrpm, 0xC000'0082, true));
    // SYSENTER_CS (0x174): range 1 -> bits 0x2E8 and 0x2E9.
    ASSERT_TRUE(allow_msr(msrpm, 0x174, true, true));
    EXPECT_EQ(msrpm[0x2E8 / 8], 0xFF & ~(3u << (0x2E8 % 8)));
    // 0xC0010117 (VM_HSAVE_PA): range 3 at byte 0x1000.
    EXPECT_TRUE(msr_intercepted(msrpm, 0xC001'0117, false));
    ASSERT_TRUE(allow_msr(msrpm, 0xC001'0117, false, true));
    EXPECT_FALSE(msr_intercepted(msrpm, 0xC001'0117, true));
    EXPECT_TRUE(msr_intercepted(msrpm, 0xC001'0117, false));
}

TEST(PermissionMaps, MsrsOutsideTheRangesAreAlwaysIntercepted) {
    std::vector<uint8_t> msrpm(kMsrpmBytes, 0);
    EXPECT_FALSE(allow_msr(msrpm, 0x4000'0000, true, true));
    EXPECT_FALSE(allow_msr(msrpm, 0x2000, true, true));
    EXPECT_TRUE(msr_intercepted(msrpm, 0x4000'0000, false));
    EXPECT_FALSE(msr_intercepted(msrpm, 0x1FFF, false)); // inside range 1, bit clear
}

TEST(PermissionMaps, PortBits) {
    std::vector<uint8_t> iopm(kIopmBytes, 0xFF);
    allow_port(iopm, 0x80);
    EXPECT_EQ(iopm[0x10], 0xFE);
    EXPECT_FALSE(port_intercepted(iopm, 0x80));
    EXPECT_TRUE(port_intercepted(iopm, 0x81));
}
