// The guest memory map (vmm/worker/linux/e820.hpp).
#include "vmm/worker/linux/e820.hpp"

#include <gtest/gtest.h>

namespace halcyon::worker::linux_boot {
namespace {

TEST(LinuxE820, MapsRamAroundTheLegacyAreas) {
    E820Entry map[kMaxE820Entries];
    auto count = build_e820_map(512ull << 20, map);
    ASSERT_FALSE(count.is_error()) << count.error().message();
    ASSERT_EQ(count.value(), 4u);
    const E820Entry expected[] = {
        {0, 0x9FC00, kE820Ram},
        {0x9FC00, 0x400, kE820Reserved},
        {0xE0000, 0x20000, kE820Reserved},
        {0x100000, (512ull << 20) - 0x100000, kE820Ram},
    };
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(+map[i].address, +expected[i].address) << i;
        EXPECT_EQ(+map[i].size, +expected[i].size) << i;
        EXPECT_EQ(+map[i].type, +expected[i].type) << i;
    }
    // Sorted and non-overlapping, as the kernel prefers it.
    for (size_t i = 1; i < 4; ++i)
        EXPECT_LE(+map[i - 1].address + map[i - 1].size, +map[i].address);
}

TEST(LinuxE820, LastRamEntryEndsAtTheMemorySize) {
    E820Entry map[4];
    for (uint64_t megabytes : {2ull, 17ull, 1024ull, 3072ull}) {
        auto count = build_e820_map(megabytes << 20, map);
        ASSERT_FALSE(count.is_error()) << megabytes;
        EXPECT_EQ(+map[3].address + map[3].size, megabytes << 20);
    }
}

TEST(LinuxE820, RefusesSizesItCannotDescribe) {
    E820Entry map[4];
    EXPECT_EQ(build_e820_map(1ull << 20, map).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(build_e820_map((3ull << 30) + 4096, map).error().code(), ErrorCode::not_supported);
    EXPECT_EQ(build_e820_map(64ull << 20, std::span<E820Entry>(map, 3)).error().code(),
              ErrorCode::invalid_argument);
}

} // namespace
} // namespace halcyon::worker::linux_boot
