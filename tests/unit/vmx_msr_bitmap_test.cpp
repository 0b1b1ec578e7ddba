// The VT-x MSR bitmap layout (vmm/vmx/msr_bitmap.hpp).
#include "vmm/vmx/msr_bitmap.hpp"

#include <array>
#include <gtest/gtest.h>

using namespace halcyon::vmx;

TEST(VmxMsrBitmap, EverythingExitsUntilAllowed) {
    std::array<uint8_t, kMsrBitmapBytes> bitmap{};
    intercept_all_msrs(bitmap);
    EXPECT_TRUE(msr_access_exits(bitmap, 0x10, false));
    EXPECT_TRUE(msr_access_exits(bitmap, 0xC000'0100, true));
    ASSERT_TRUE(allow_msr_access(bitmap, 0xC000'0100, true, true)); // FS_BASE
    EXPECT_FALSE(msr_access_exits(bitmap, 0xC000'0100, false));
    EXPECT_FALSE(msr_access_exits(bitmap, 0xC000'0100, true));
    ASSERT_TRUE(allow_msr_access(bitmap, 0xC000'0082, true, false)); // LSTAR: reads only
    EXPECT_FALSE(msr_access_exits(bitmap, 0xC000'0082, false));
    EXPECT_TRUE(msr_access_exits(bitmap, 0xC000'0082, true));
    EXPECT_TRUE(msr_access_exits(bitmap, 0xC000'0081, false)) << "the neighbour is untouched";
}

TEST(VmxMsrBitmap, LayoutMatchesTheSdm) {
    std::array<uint8_t, kMsrBitmapBytes> bitmap{};
    intercept_all_msrs(bitmap);
    ASSERT_TRUE(allow_msr_access(bitmap, 0x174, true, false)); // low read bitmap at 0
    EXPECT_EQ(bitmap[0x174 / 8], static_cast<uint8_t>(~(1u << (0x174 % 8))));
    ASSERT_TRUE(allow_msr_access(bitmap, 0x176, false, true)); // low write bitmap at 2048
    EXPECT_EQ(bitmap[2048 + 0x176 / 8], static_cast<uint8_t>(~(1u << (0x176 % 8))));
    ASSERT_TRUE(allow_msr_access(bitmap, 0xC000'0102, true, true)); // high: 1024 and 3072
    EXPECT_EQ(bitmap[1024 + 0x102 / 8], static_cast<uint8_t>(~(1u << (0x102 % 8))));
    EXPECT_EQ(bitmap[3072 + 0x102 / 8], static_cast<uint8_t>(~(1u << (0x102 % 8))));
}

TEST(VmxMsrBitmap, MsrsOutsideTheRangesAlwaysExit) {
    std::array<uint8_t, kMsrBitmapBytes> bitmap{};
    EXPECT_FALSE(allow_msr_access(bitmap, 0x2000, true, true));
    EXPECT_FALSE(allow_msr_access(bitmap, 0xC001'0114, true, true)); // AMD's VM_CR
    EXPECT_TRUE(msr_access_exits(bitmap, 0x4000'0000, false));
}
